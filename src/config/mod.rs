//! Settings: load the layers (default → environment overlay → `--config FILE` → `TSH_ISSUER__*`
//! variables), then validate them into [`Settings`]. A bad configuration is refused with one message
//! naming the key.

mod events;
mod lifecycle;
mod load;
mod settings;
mod store;
mod token_for_token;

pub use events::{EventsSettings, DEV_EVENTS_SECRET};
pub use lifecycle::LifecycleSettings;
pub use load::{load, LoadOptions};
pub use settings::{
    BinProduct, CardsSettings, ConfigError, ConsoleSettings, CryptoSettings, IssuerSettings,
    LogFormat, LogSettings, OtpSettings, RulesSettings, ServerSettings, Settings, StaffRole,
    StaffSettings, StaffToken, TlsSettings, TshSettings, DEFAULT_STORE_CACHE_MB, DEV_SECRETS,
};
pub use store::{masked_url, PostgresSettings, StoreBackend, StoreSettings};
pub use token_for_token::TokenForTokenSettings;

#[cfg(test)]
mod tests;
