//! The command line: clap types only. Behaviour lives in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::Value;

use crate::args;
use crate::format::Format;

const AFTER_HELP: &str = "\
Connection settings come from, first one wins: the flags, the environment
(WARREN_URL, WARREN_USER, WARREN_PASSWORD, WARREN_VHOST), the config file
$XDG_CONFIG_HOME/warren/warrenctl.toml (else ~/.config/warren/warrenctl.toml) with keys
url, user, password, vhost, then the defaults. --user and --password go before the
command (add user and set permissions have flags of those names).

Exit codes:
  0   success
  64  bad usage (unknown flag, missing or malformed argument)
  65  data error (malformed file, HTTP 400, publish not routed to any queue)
  66  not found (HTTP 404, or a missing input file)
  69  management API unreachable
  70  other server error (HTTP 5xx, unexpected reply)
  74  cannot write output
  77  authentication or authorisation refused (HTTP 401/403)
  78  malformed config file";

/// warrenctl: administer a Warren (or RabbitMQ) broker through its management HTTP API.
#[derive(Debug, Parser)]
#[command(name = "warrenctl", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Management API base URL [default: http://127.0.0.1:15672]
    #[arg(long, global = true, value_name = "URL")]
    pub url: Option<String>,
    /// User name [default: guest]
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Password [default: guest]
    #[arg(long, value_name = "PASSWORD")]
    pub password: Option<String>,
    /// Virtual host [default: / ; listings: all vhosts]
    #[arg(long, global = true, value_name = "VHOST")]
    pub vhost: Option<String>,
    /// Output format
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Give up on a request after this many seconds
    #[arg(long, global = true, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,
    /// The command to run
    #[command(subcommand)]
    pub command: Command,
}

/// Every command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Broker overview: product, node, listeners, totals, rates, alarms
    #[command(visible_alias = "overview")]
    Status,
    /// List objects of one kind as a table, JSON or TSV
    List(ListArgs),
    /// Show one object in detail
    #[command(subcommand)]
    Show(ShowCmd),
    /// Declare a queue, exchange or binding
    #[command(subcommand)]
    Declare(DeclareCmd),
    /// Delete a queue, exchange, binding, user or vhost
    #[command(subcommand)]
    Delete(DeleteCmd),
    /// Remove every ready message from a queue
    #[command(subcommand)]
    Purge(PurgeCmd),
    /// Publish one message through an exchange (exit 65 when no queue receives it)
    Publish(PublishArgs),
    /// Peek at (or with --ack, take) messages from a queue
    Get(GetArgs),
    /// Export or import definitions (definitions.json)
    #[command(subcommand)]
    Definitions(DefinitionsCmd),
    /// Make the broker's topology match a file (Warren only)
    Apply(ApplyArgs),
    /// Send dead-lettered messages back to the queues they died in (Warren only)
    Replay(ReplayArgs),
    /// Move messages from one queue to another (Warren only)
    Move(MoveArgs),
    /// Close a client connection
    #[command(subcommand)]
    Close(CloseCmd),
    /// Add a user or a vhost
    #[command(subcommand)]
    Add(AddCmd),
    /// Set permissions, a policy, or vhost / user limits
    #[command(subcommand)]
    Set(SetCmd),
    /// Clear permissions, a policy, or a vhost / user limit
    #[command(subcommand)]
    Clear(ClearCmd),
    /// Print a shell completion script
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: CompletionShell,
    },
}

/// Shells `completions` writes a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    /// bash
    Bash,
    /// zsh
    Zsh,
    /// fish
    Fish,
}

/// The kinds of object `list` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListKind {
    /// Queues
    Queues,
    /// Exchanges
    Exchanges,
    /// Bindings
    Bindings,
    /// Client connections
    Connections,
    /// Channels
    Channels,
    /// Consumers
    Consumers,
    /// Users
    Users,
    /// Virtual hosts
    Vhosts,
    /// User permissions
    Permissions,
    /// Policies
    Policies,
}

/// `list KIND`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// What to list
    #[arg(value_enum)]
    pub kind: ListKind,
    /// Columns to show, comma-separated: names from the default set or any JSON field
    /// path (e.g. arguments.x-queue-type)
    #[arg(long, value_delimiter = ',', value_name = "COLS")]
    pub columns: Vec<String>,
    /// Sort by this column (or JSON field path)
    #[arg(long, value_name = "COL")]
    pub sort: Option<String>,
    /// Reverse the sort order
    #[arg(long)]
    pub sort_reverse: bool,
    /// Only objects whose name matches this regex
    #[arg(long, value_name = "REGEX", value_parser = args::regex)]
    pub filter: Option<regex::Regex>,
    /// Redraw every SECS seconds until Ctrl-C
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub watch: Option<u64>,
}

/// `show ...`.
#[derive(Debug, Subcommand)]
pub enum ShowCmd {
    /// A queue: every field, its consumers, bindings and policy
    Queue {
        /// Queue name
        name: String,
    },
}

/// `declare ...`.
#[derive(Debug, Subcommand)]
pub enum DeclareCmd {
    /// Declare a queue (durable unless --no-durable)
    Queue(DeclareQueue),
    /// Declare an exchange (durable unless --no-durable)
    Exchange(DeclareExchange),
    /// Bind a queue or exchange to a source exchange
    Binding(DeclareBinding),
}

/// Queue types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QueueType {
    /// Classic queue
    Classic,
    /// Quorum queue
    Quorum,
    /// Stream
    Stream,
}

impl QueueType {
    /// The `x-queue-type` argument value.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueType::Classic => "classic",
            QueueType::Quorum => "quorum",
            QueueType::Stream => "stream",
        }
    }
}

/// `declare queue`.
#[derive(Debug, Args)]
pub struct DeclareQueue {
    /// Queue name
    pub name: String,
    /// Survive a broker restart (the default)
    #[arg(long, overrides_with = "no_durable")]
    pub durable: bool,
    /// Do not survive a broker restart
    #[arg(long)]
    pub no_durable: bool,
    /// Delete when the last consumer goes
    #[arg(long)]
    pub auto_delete: bool,
    /// Queue type (x-queue-type)
    #[arg(long = "type", value_enum, value_name = "TYPE")]
    pub queue_type: Option<QueueType>,
    /// Queue argument key=value (value: integer, boolean, JSON, else string); repeatable
    #[arg(long = "arg", value_name = "KEY=VALUE", value_parser = args::typed_pair)]
    pub args: Vec<(String, Value)>,
}

/// `declare exchange`.
#[derive(Debug, Args)]
pub struct DeclareExchange {
    /// Exchange name
    pub name: String,
    /// Exchange type: direct, fanout, topic, headers, x-...
    #[arg(long = "type", value_name = "TYPE")]
    pub exchange_type: String,
    /// Survive a broker restart (the default)
    #[arg(long, overrides_with = "no_durable")]
    pub durable: bool,
    /// Do not survive a broker restart
    #[arg(long)]
    pub no_durable: bool,
    /// Delete when the last binding goes
    #[arg(long)]
    pub auto_delete: bool,
    /// Clients cannot publish to it directly
    #[arg(long)]
    pub internal: bool,
    /// Exchange argument key=value; repeatable
    #[arg(long = "arg", value_name = "KEY=VALUE", value_parser = args::typed_pair)]
    pub args: Vec<(String, Value)>,
}

/// What a binding's destination is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DestinationType {
    /// A queue
    Queue,
    /// An exchange
    Exchange,
}

impl DestinationType {
    /// The letter RabbitMQ's binding paths use: `q` or `e`.
    pub fn path_letter(self) -> &'static str {
        match self {
            DestinationType::Queue => "q",
            DestinationType::Exchange => "e",
        }
    }

    /// `queue` or `exchange`.
    pub fn as_str(self) -> &'static str {
        match self {
            DestinationType::Queue => "queue",
            DestinationType::Exchange => "exchange",
        }
    }
}

/// `declare binding`.
#[derive(Debug, Args)]
pub struct DeclareBinding {
    /// Source exchange ("" is the default exchange)
    #[arg(long, value_name = "EXCHANGE")]
    pub source: String,
    /// Destination queue or exchange
    #[arg(long, value_name = "NAME")]
    pub destination: String,
    /// Whether the destination is a queue or an exchange
    #[arg(long, value_enum, default_value_t = DestinationType::Queue)]
    pub destination_type: DestinationType,
    /// Routing key
    #[arg(long, default_value = "")]
    pub routing_key: String,
    /// Binding argument key=value; repeatable
    #[arg(long = "arg", value_name = "KEY=VALUE", value_parser = args::typed_pair)]
    pub args: Vec<(String, Value)>,
}

/// `delete ...`.
#[derive(Debug, Subcommand)]
pub enum DeleteCmd {
    /// Delete a queue
    Queue {
        /// Queue name
        name: String,
        /// Only if it has no consumers
        #[arg(long)]
        if_unused: bool,
        /// Only if it has no messages
        #[arg(long)]
        if_empty: bool,
    },
    /// Delete an exchange
    Exchange {
        /// Exchange name
        name: String,
        /// Only if nothing is bound to it
        #[arg(long)]
        if_unused: bool,
    },
    /// Delete a binding, named by its properties key or routing key
    Binding(DeleteBinding),
    /// Delete a user
    User {
        /// User name
        name: String,
    },
    /// Delete a vhost and everything in it
    Vhost {
        /// Vhost name
        name: String,
    },
}

/// `delete binding`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("key").required(true).args(["properties_key", "routing_key"])))]
pub struct DeleteBinding {
    /// Source exchange
    #[arg(long, value_name = "EXCHANGE")]
    pub source: String,
    /// Destination queue or exchange
    #[arg(long, value_name = "NAME")]
    pub destination: String,
    /// Whether the destination is a queue or an exchange
    #[arg(long, value_enum, default_value_t = DestinationType::Queue)]
    pub destination_type: DestinationType,
    /// The binding's properties key (from `list bindings`)
    #[arg(long, value_name = "KEY")]
    pub properties_key: Option<String>,
    /// The binding's routing key (the properties key is looked up)
    #[arg(long, value_name = "KEY")]
    pub routing_key: Option<String>,
}

/// `purge ...`.
#[derive(Debug, Subcommand)]
pub enum PurgeCmd {
    /// Purge a queue
    Queue {
        /// Queue name
        name: String,
    },
}

/// `publish`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("body").required(true).args(["payload", "payload_file"])))]
pub struct PublishArgs {
    /// Exchange ("" is the default exchange)
    #[arg(long, default_value = "", value_name = "EXCHANGE")]
    pub exchange: String,
    /// Routing key
    #[arg(long, default_value = "", value_name = "KEY")]
    pub routing_key: String,
    /// Message body as text
    #[arg(long, value_name = "TEXT")]
    pub payload: Option<String>,
    /// Read the message body from a file (binary is sent base64-encoded)
    #[arg(long, value_name = "FILE")]
    pub payload_file: Option<PathBuf>,
    /// Message property key=value (delivery_mode=2, content_type=...); repeatable
    #[arg(long = "property", value_name = "KEY=VALUE", value_parser = args::property)]
    pub properties: Vec<(String, Value)>,
    /// Message header key=value (value typed like --arg); repeatable
    #[arg(long = "header", value_name = "KEY=VALUE", value_parser = args::typed_pair)]
    pub headers: Vec<(String, Value)>,
}

/// `get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// Queue name
    pub queue: String,
    /// How many messages
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub count: u32,
    /// Acknowledge (remove) the messages instead of requeueing them
    #[arg(long)]
    pub ack: bool,
}

/// `definitions ...`.
#[derive(Debug, Subcommand)]
pub enum DefinitionsCmd {
    /// Write the definitions (of --vhost, else of the whole broker) to FILE or stdout
    Export {
        /// Output file (stdout when absent)
        file: Option<PathBuf>,
    },
    /// Load definitions from FILE (into --vhost when given)
    Import {
        /// A definitions.json file
        file: PathBuf,
    },
}

/// `apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// definitions.json (JSON) or warren.toml (TOML)
    pub file: PathBuf,
    /// Only show what would change
    #[arg(long)]
    pub dry_run: bool,
    /// Also remove what the file does not mention
    #[arg(long)]
    pub prune: bool,
}

/// `replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The dead-letter queue to replay from
    pub queue: String,
    /// Send every message to this queue instead of where it died
    #[arg(long, value_name = "QUEUE")]
    pub to: Option<String>,
    /// At most this many messages
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Only count what would move
    #[arg(long)]
    pub dry_run: bool,
}

/// `move`.
#[derive(Debug, Args)]
pub struct MoveArgs {
    /// Source queue
    #[arg(long, value_name = "QUEUE")]
    pub from: String,
    /// Destination queue
    #[arg(long, value_name = "QUEUE")]
    pub to: String,
    /// At most this many messages
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Only count what would move
    #[arg(long)]
    pub dry_run: bool,
}

/// `close ...`.
#[derive(Debug, Subcommand)]
pub enum CloseCmd {
    /// Close a client connection by name (see `list connections`)
    Connection {
        /// Connection name
        name: String,
        /// Reason given to the client
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
}

/// `add ...`.
#[derive(Debug, Subcommand)]
pub enum AddCmd {
    /// Add (or update) a user
    User {
        /// User name
        name: String,
        /// The new user's password
        #[arg(long, value_name = "PASSWORD")]
        password: String,
        /// Tags, comma-separated (administrator, monitoring, management...)
        #[arg(long, value_delimiter = ',', value_name = "TAGS")]
        tags: Vec<String>,
    },
    /// Add a vhost
    Vhost {
        /// Vhost name
        name: String,
        /// Description
        #[arg(long, value_name = "TEXT")]
        description: Option<String>,
    },
}

/// `set ...`.
#[derive(Debug, Subcommand)]
pub enum SetCmd {
    /// Grant a user permissions in --vhost (default /)
    Permissions {
        /// User name
        #[arg(long, value_name = "USER")]
        user: String,
        /// Regex of resources the user may configure
        #[arg(long, value_name = "REGEX")]
        configure: String,
        /// Regex of resources the user may write to
        #[arg(long, value_name = "REGEX")]
        write: String,
        /// Regex of resources the user may read from
        #[arg(long, value_name = "REGEX")]
        read: String,
    },
    /// Set a policy in --vhost (default /)
    Policy {
        /// Policy name
        name: String,
        /// Regex of queue / exchange names it applies to
        #[arg(long, value_name = "REGEX")]
        pattern: String,
        /// Definition as a JSON object, e.g. '{"max-length":1000}'
        #[arg(long, value_name = "JSON", value_parser = args::json_object)]
        definition: Value,
        /// What it applies to
        #[arg(long, value_enum, default_value_t = ApplyTo::All)]
        apply_to: ApplyTo,
        /// Higher wins when several policies match
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        priority: i64,
    },
    /// Set limits of --vhost (default /); -1 means no limit
    VhostLimits {
        /// Most client connections
        #[arg(long, value_name = "N", allow_negative_numbers = true)]
        max_connections: Option<i64>,
        /// Most queues
        #[arg(long, value_name = "N", allow_negative_numbers = true)]
        max_queues: Option<i64>,
    },
    /// Set limits of a user; -1 means no limit
    UserLimits {
        /// User name
        #[arg(long, value_name = "USER")]
        user: String,
        /// Most connections
        #[arg(long, value_name = "N", allow_negative_numbers = true)]
        max_connections: Option<i64>,
        /// Most channels
        #[arg(long, value_name = "N", allow_negative_numbers = true)]
        max_channels: Option<i64>,
    },
}

/// What a policy applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApplyTo {
    /// Queues only
    Queues,
    /// Exchanges only
    Exchanges,
    /// Both
    All,
}

impl ApplyTo {
    /// The `apply-to` value.
    pub fn as_str(self) -> &'static str {
        match self {
            ApplyTo::Queues => "queues",
            ApplyTo::Exchanges => "exchanges",
            ApplyTo::All => "all",
        }
    }
}

/// Vhost limit names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VhostLimit {
    /// max-connections
    MaxConnections,
    /// max-queues
    MaxQueues,
}

/// User limit names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UserLimit {
    /// max-connections
    MaxConnections,
    /// max-channels
    MaxChannels,
}

/// `clear ...`.
#[derive(Debug, Subcommand)]
pub enum ClearCmd {
    /// Revoke a user's permissions in --vhost (default /)
    Permissions {
        /// User name
        #[arg(long, value_name = "USER")]
        user: String,
    },
    /// Remove a policy from --vhost (default /)
    Policy {
        /// Policy name
        name: String,
    },
    /// Remove one limit of --vhost (default /)
    VhostLimits {
        /// The limit
        #[arg(value_enum)]
        name: VhostLimit,
    },
    /// Remove one limit of a user
    UserLimits {
        /// User name
        #[arg(long, value_name = "USER")]
        user: String,
        /// The limit
        #[arg(value_enum)]
        name: UserLimit,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn help_lists_every_exit_code() {
        use crate::exit::*;
        for code in [
            OK,
            USAGE,
            DATAERR,
            NOINPUT,
            UNAVAILABLE,
            SOFTWARE,
            IOERR,
            NOPERM,
            CONFIG,
        ] {
            assert!(
                AFTER_HELP.contains(&format!("\n  {code:<3} ")),
                "exit {code} missing from --help"
            );
        }
    }

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn declare_queue_is_durable_unless_told_otherwise() {
        let cli =
            Cli::try_parse_from(["warrenctl", "declare", "queue", "q", "--no-durable"]).unwrap();
        match cli.command {
            Command::Declare(DeclareCmd::Queue(q)) => assert!(q.no_durable && !q.durable),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn global_flags_go_after_the_command_too() {
        let cli = Cli::try_parse_from([
            "warrenctl",
            "list",
            "queues",
            "--vhost",
            "v",
            "--format",
            "tsv",
        ])
        .unwrap();
        assert_eq!(cli.vhost.as_deref(), Some("v"));
        assert_eq!(cli.format, Format::Tsv);
    }

    #[test]
    fn typed_args_parse_at_the_command_line() {
        let cli = Cli::try_parse_from([
            "warrenctl",
            "declare",
            "queue",
            "q",
            "--arg",
            "x-max-length=10",
            "--arg",
            "x-dead-letter-exchange=dlx",
        ])
        .unwrap();
        let Command::Declare(DeclareCmd::Queue(q)) = cli.command else {
            panic!("not declare queue")
        };
        assert_eq!(q.args[0], ("x-max-length".to_string(), Value::from(10)));
        assert_eq!(q.args[1].1, Value::from("dlx"));
        assert!(
            Cli::try_parse_from(["warrenctl", "declare", "queue", "q", "--arg", "oops"]).is_err()
        );
    }

    #[test]
    fn delete_binding_needs_a_key() {
        assert!(Cli::try_parse_from([
            "warrenctl",
            "delete",
            "binding",
            "--source",
            "x",
            "--destination",
            "q"
        ])
        .is_err());
        assert!(Cli::try_parse_from([
            "warrenctl",
            "delete",
            "binding",
            "--source",
            "x",
            "--destination",
            "q",
            "--routing-key",
            "k"
        ])
        .is_ok());
    }
}
