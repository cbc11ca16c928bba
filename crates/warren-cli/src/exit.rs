//! Exit codes of `warrenctl`, after BSD's `sysexits.h` so scripts can tell failures apart.
//!
//! | code | name        | when                                                                 |
//! |------|-------------|----------------------------------------------------------------------|
//! | 0    | OK          | the command did what it was asked                                    |
//! | 64   | USAGE       | bad command line: unknown flag, missing or malformed argument        |
//! | 65   | DATAERR     | bad data: malformed file, HTTP 400 from the server, unroutable publish |
//! | 66   | NOINPUT     | not found: HTTP 404 (queue, exchange, vhost, user...) or a missing input file |
//! | 69   | UNAVAILABLE | the management API cannot be reached                                 |
//! | 70   | SOFTWARE    | any other server error (HTTP 5xx, unexpected reply)                  |
//! | 74   | IOERR       | cannot write the output file or standard output                      |
//! | 77   | NOPERM      | authentication or authorisation refused (HTTP 401 / 403)             |
//! | 78   | CONFIG      | the config file `warrenctl.toml` is malformed                        |

/// The command did what it was asked.
pub const OK: u8 = 0;
/// Bad command line (clap errors land here instead of clap's own 2).
pub const USAGE: u8 = 64;
/// Bad data: a malformed file, a 400 from the server, or a publish no queue received.
pub const DATAERR: u8 = 65;
/// The addressed object (or a local input file) does not exist.
pub const NOINPUT: u8 = 66;
/// The management API cannot be reached.
pub const UNAVAILABLE: u8 = 69;
/// Any other server-side failure: HTTP 5xx or a reply that cannot be understood.
pub const SOFTWARE: u8 = 70;
/// A local write failed (output file, standard output).
pub const IOERR: u8 = 74;
/// The server refused the credentials (401) or the user's rights (403).
pub const NOPERM: u8 = 77;
/// The config file is malformed.
pub const CONFIG: u8 = 78;
