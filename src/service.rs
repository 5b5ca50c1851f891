//! One account's token service, wired to this process's memcached
//! connections, the WeChat API and the process-local token cache. What an
//! account needs (keys, policy) is derived from the settings once per INI
//! change, not on every construction.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use once_cell::sync::Lazy;

use crate::cache::{make_key, Memcached};
use crate::config::{Secret, Settings};
use crate::error::WeixinError;
use crate::ini;
use crate::token::{Keys, LocalCache, Policy, SystemClock, TokenService};
use crate::wechat::WeChatApi;

/// Process-wide state of the token rules: tokens this process holds.
static LOCAL_TOKENS: Lazy<LocalCache> = Lazy::new(LocalCache::new);

/// What one account's lookups need, derived from the settings once.
struct Account {
    keys: Keys,
    /// The key in the process-local cache: memcached pool and key.
    local_key: String,
    policy: Policy,
}

thread_local! {
    /// Accounts by AppID, for one parse of the settings.
    static ACCOUNTS: RefCell<(u64, HashMap<String, Rc<Account>>)> = RefCell::new((u64::MAX, HashMap::new()));
}

fn account(settings: &Settings, appid: &str) -> Result<Rc<Account>, WeixinError> {
    let generation = ini::generation();
    if let Some(found) = ACCOUNTS.with_borrow(|(g, accounts)| {
        (*g == generation).then(|| accounts.get(appid).cloned()).flatten()
    }) {
        return Ok(found);
    }
    let keys = Keys::new(&make_key(&settings.cache_key, appid)?, settings.use_stable_token);
    let servers: Vec<String> = settings.memcache_servers.iter().map(ToString::to_string).collect();
    let account = Rc::new(Account {
        local_key: format!("{}|{}", servers.join(","), keys.token),
        keys,
        policy: Policy::new(
            settings.refresh_margin,
            settings.local_cache_ttl,
            settings.http.timeout,
            settings.use_stable_token,
        ),
    });
    ACCOUNTS.with_borrow_mut(|(g, accounts)| {
        if *g != generation {
            *g = generation;
            accounts.clear();
        }
        accounts.insert(appid.to_string(), Rc::clone(&account));
    });
    Ok(account)
}

/// Runs `job` with the token rules wired to memcached, WeChat and this
/// process's cache, for one account; memcached trouble goes to `warn`.
/// Errors come back with the secret masked.
pub fn with_token_service<T>(
    settings: &Settings,
    appid: &str,
    secret: &Secret,
    warn: &dyn Fn(&WeixinError),
    job: impl FnOnce(&TokenService) -> Result<T, WeixinError>,
) -> Result<T, WeixinError> {
    let account = account(settings, appid)?;
    let store = Memcached {
        servers: &settings.memcache_servers,
        timeout: settings.memcache_timeout,
    };
    let api = WeChatApi {
        base_url: &settings.api_base_url,
        http: &settings.http,
        stable: settings.use_stable_token,
    };
    let service = TokenService {
        store: &store,
        upstream: &api,
        clock: &SystemClock,
        local: &LOCAL_TOKENS,
        local_key: &account.local_key,
        keys: &account.keys,
        appid,
        secret,
        policy: &account.policy,
        warn,
    };
    job(&service).map_err(|e| e.redact(secret.expose()))
}

