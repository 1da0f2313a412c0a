//! `[token_for_token]`: what happens to card-on-file tokens made by token-for-token when the token
//! they were made from (their original, or an earlier ancestor) is suspended or deleted
//! (`on_original_death`: `none`, `flag` — the default — or `suspend`; docs/decisions.md says why).
//!
//! Parse, then build: [`RawTokenForToken`] as read, validated into [`TokenForTokenSettings`]; an
//! unknown policy stops startup naming the key.

use serde::Deserialize;

use super::settings::ConfigError;
use crate::domain::lineage::OnOriginalDeath;

#[derive(Debug, Default, Deserialize)]
pub(super) struct RawTokenForToken {
    #[serde(default)]
    on_original_death: Option<String>,
}

/// Validated `[token_for_token]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenForTokenSettings {
    pub on_original_death: OnOriginalDeath,
}

impl Default for TokenForTokenSettings {
    fn default() -> Self {
        TokenForTokenSettings {
            on_original_death: OnOriginalDeath::Flag,
        }
    }
}

impl RawTokenForToken {
    pub(super) fn validate(&self) -> Result<TokenForTokenSettings, ConfigError> {
        let on_original_death = match self.on_original_death.as_deref() {
            None => OnOriginalDeath::Flag,
            Some(raw) => OnOriginalDeath::parse(raw).ok_or_else(|| {
                ConfigError::new(
                    "token_for_token.on_original_death",
                    "must be none, flag or suspend",
                )
            })?,
        };
        Ok(TokenForTokenSettings { on_original_death })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_defaults_to_flag_and_refuses_unknown_names() {
        let raw = |v: Option<&str>| RawTokenForToken {
            on_original_death: v.map(str::to_owned),
        };
        assert_eq!(
            raw(None).validate().unwrap().on_original_death,
            OnOriginalDeath::Flag
        );
        assert_eq!(
            raw(Some("Suspend")).validate().unwrap().on_original_death,
            OnOriginalDeath::Suspend
        );
        let error = raw(Some("delete")).validate().unwrap_err();
        assert!(
            error
                .to_string()
                .contains("token_for_token.on_original_death"),
            "{error}"
        );
    }
}
