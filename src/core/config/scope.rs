//! Who set a setting: the administrator (php.ini, `-d`, a php-fpm pool) or
//! the running script (`ini_set()`, `.user.ini`); and the rule that follows
//! for the AppSecret: a script may send only a secret it gave itself to
//! another host. The administrator's `weixin.appsecret` goes only where the
//! administrator's settings send it.

use super::Settings;
use crate::error::WeixinError;

/// The settings that decide which host gets the token request, and so the
/// AppSecret in it: the API's address, the proxy it goes through, and the
/// CA bundle that decides which host may answer for it.
pub const DESTINATIONS: [&str; 3] = ["weixin.api_base_url", "weixin.proxy", "weixin.ca_file"];

/// The settings the running script set itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetByScript(Vec<&'static str>);

impl SetByScript {
    pub fn new(names: Vec<&'static str>) -> SetByScript {
        SetByScript(names)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains(&name)
    }
}

impl Settings {
    /// Whether the INI AppSecret may be used as the settings stand: not
    /// when it is the administrator's and the script moved where it goes.
    pub fn check_ini_secret_destination(&self) -> Result<(), WeixinError> {
        if self.set_by_script.contains("weixin.appsecret") {
            return Ok(());
        }
        let moved: Vec<&str> = DESTINATIONS.into_iter().filter(|name| self.set_by_script.contains(name)).collect();
        if moved.is_empty() {
            return Ok(());
        }
        Err(WeixinError::config(format!(
            "{} set by this script (ini_set(), .user.ini), but the AppSecret is weixin.appsecret from php.ini \
             or the php-fpm pool: a script may send elsewhere only a secret it gives itself. Set {} where \
             weixin.appsecret is set, or pass the AppID and AppSecret to the constructor",
            moved.join(", "),
            if moved.len() == 1 { "it" } else { "them" }
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(set_by_script: &[&'static str]) -> Settings {
        let mut settings = Settings::from_lookup(|_| None).unwrap();
        settings.set_by_script = SetByScript::new(set_by_script.to_vec());
        settings
    }

    #[test]
    fn the_administrators_secret_goes_only_where_the_administrator_sends_it() {
        assert!(settings(&[]).check_ini_secret_destination().is_ok());
        for moved in DESTINATIONS {
            let error = settings(&[moved]).check_ini_secret_destination().unwrap_err();
            assert!(error.message.starts_with(&format!("{moved} set by this script")), "{}", error.message);
            assert!(error.message.contains("weixin.appsecret from php.ini"), "{}", error.message);
        }
        let error = settings(&["weixin.proxy", "weixin.api_base_url"]).check_ini_secret_destination().unwrap_err();
        assert!(error.message.starts_with("weixin.api_base_url, weixin.proxy set"), "{}", error.message);
    }

    #[test]
    fn a_script_may_send_its_own_secret_where_it_likes() {
        let own = settings(&["weixin.appsecret", "weixin.api_base_url", "weixin.proxy", "weixin.ca_file"]);
        assert!(own.check_ini_secret_destination().is_ok());
    }

    #[test]
    fn other_settings_changed_by_the_script_move_nothing() {
        for name in ["weixin.appid", "weixin.timeout", "weixin.cache_key", "weixin.memcache_servers"] {
            assert!(settings(&[name]).check_ini_secret_destination().is_ok(), "{name}");
        }
    }
}
