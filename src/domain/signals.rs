//! The risk signals a digitization request carries (`scoringInformation`, `deviceInformation`,
//! `walletUserInformation`, the device location), as typed fields. Built by the contract layer
//! from whatever spelling and JSON kind TSH used; read by the facts builder. Text values are
//! trimmed and never empty; absent or unreadable values are `None`.

/// `scoringInformation`: the wallet's and the network's scores.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScoringSignals {
    pub level_of_trust: Option<String>,
    pub tsp_score: Option<f64>,
    pub device_score: Option<f64>,
    pub account_score: Option<f64>,
    pub phone_number_score: Option<f64>,
    pub wallet_score: Option<f64>,
    pub card_score: Option<f64>,
    pub device_tenure: Option<f64>,
    pub user_tenure: Option<f64>,
    pub card_newly_added: Option<bool>,
    pub reason_codes: Option<Vec<String>>,
}

/// `deviceInformation`, and the device's country wherever the request gives it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceSignals {
    /// `deviceId`, else `serialNumber`, else `imei`: only ever used as a keyed fingerprint.
    pub device_id: Option<String>,
    pub token_storage_type: Option<String>,
    pub manufacturer: Option<String>,
    pub brand: Option<String>,
    pub model: Option<String>,
    pub os_version: Option<String>,
    pub language: Option<String>,
    /// ISO country, upper case: from `cardCaptureInformation.deviceLocation`, else the device.
    pub country: Option<String>,
}

/// `walletUserInformation`: the wallet account's history.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WalletUserSignals {
    pub account_country: Option<String>,
    pub provisioning_attempts_on_device_in_24_hours: Option<f64>,
    pub suspended_cards_in_account: Option<f64>,
    pub days_since_last_account_activity: Option<f64>,
    pub number_of_active_tokens: Option<f64>,
}

/// Every signal of one request; all absent for callbacks that carry none (stand-in).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Signals {
    pub scoring: ScoringSignals,
    pub device: DeviceSignals,
    pub wallet_user: WalletUserSignals,
}
