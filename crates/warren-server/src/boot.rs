//! What happens between recovering the store and opening the listeners: a fresh broker
//! gets its default vhost and user, then the configured definitions are applied
//! (idempotently: see [`warren_broker::definitions::import`]).

use tracing::info;
use warren_broker::access::User;
use warren_broker::admin::FirstBoot;
use warren_broker::definitions::ImportMode;
use warren_broker::Broker;

use crate::config::ServerConfig;

/// Why the configured defaults or definitions could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    /// Creating the default vhost or user failed.
    #[error("cannot create the default vhost and user: {0}")]
    Defaults(warren_broker::admin::AdminError),
    /// The definitions conflict with the broker's state or are invalid.
    #[error("definitions: {0}")]
    Definitions(warren_broker::admin::AdminError),
}

impl From<BootError> for std::io::Error {
    fn from(e: BootError) -> Self {
        std::io::Error::other(e)
    }
}

/// The defaults a fresh broker creates under `config`. As RabbitMQ skips its default
/// user and vhost when definitions are imported at boot, definitions that declare users
/// replace the default user and definitions that declare vhosts the default vhost.
pub fn first_boot(config: &ServerConfig) -> FirstBoot {
    let defs = &config.definitions;
    let vhost =
        Some(config.default_vhost.clone()).filter(|v| !v.is_empty() && defs.vhosts.is_empty());
    let user = config
        .default_user
        .as_ref()
        .filter(|u| !u.name.is_empty() && defs.users.is_empty())
        .map(|u| {
            (
                User::with_password(&u.name, &u.password, u.tags.clone()),
                u.permissions.clone(),
            )
        });
    FirstBoot { vhost, user }
}

/// Creates a fresh broker's defaults, then applies the configured definitions.
pub async fn apply(broker: &Broker, config: &ServerConfig) -> Result<(), BootError> {
    let created = broker
        .initialize(&first_boot(config))
        .map_err(BootError::Defaults)?
        .committed()
        .await
        .map_err(|e| BootError::Defaults(e.into()))?;
    if created {
        info!(vhost = %config.default_vhost, "first boot: default vhost and user created");
    }
    if config.definitions.is_empty() {
        return Ok(());
    }
    let report = broker
        .import_definitions(&config.definitions, ImportMode::Boot)
        .await
        .map_err(BootError::Definitions)?;
    info!(
        applied = report.applied,
        unchanged = report.unchanged,
        skipped = report.skipped.len(),
        "definitions applied"
    );
    Ok(())
}
