//! One account's token service, wired to this process's memcached
//! connections, the WeChat API and the process-local token cache. What an
//! account needs (keys, policy) is derived from the settings once per INI
//! change, not on every construction.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use once_cell::sync::Lazy;

use crate::config::{Secret, Settings};
use crate::error::WeixinError;
use crate::ini;
use crate::memcached::{Counters, Memcached};
use crate::quota::{self, Counted, Quota};
use crate::token::{make_key, Keys, LocalCache, LocalSlot, Policy, SystemClock, TokenService};
use crate::wechat::WeChatApi;

/// Process-wide state of the token rules: tokens this process holds.
static LOCAL_TOKENS: Lazy<LocalCache> = Lazy::new(LocalCache::new);

/// What one account's lookups need, derived from the settings once.
struct Account {
    appid: String,
    keys: Keys,
    /// The token this process holds for the account's memcached pool and key.
    local: Arc<LocalSlot>,
    policy: Policy,
    /// The API base URL and CA setting: with the credentials, whose
    /// failure a marker in the lock is.
    upstream_id: String,
}

/// Accounts by AppID, for one parse of the settings; the last one used is
/// checked first (most processes serve one account).
struct Accounts {
    generation: u64,
    last: Option<Rc<Account>>,
    by_appid: HashMap<String, Rc<Account>>,
}

/// Accounts (and token slots) one process keeps.
pub const MAX_ACCOUNTS: usize = 4096;

thread_local! {
    static ACCOUNTS: RefCell<Accounts> =
        RefCell::new(Accounts { generation: u64::MAX, last: None, by_appid: HashMap::new() });
}

fn account(settings: &Settings, appid: &str) -> Result<Rc<Account>, WeixinError> {
    let generation = ini::generation();
    let found = ACCOUNTS.with_borrow_mut(|accounts| {
        if accounts.generation != generation {
            return None;
        }
        if let Some(last) = accounts.last.as_ref().filter(|a| a.appid == appid) {
            return Some(Rc::clone(last));
        }
        if let Some(found) = accounts.by_appid.get(appid).cloned() {
            accounts.last = Some(Rc::clone(&found));
            return Some(found);
        }
        // A new one. AppIDs may come from user input: a process never holds
        // more than MAX_ACCOUNTS of them (past that it starts again from
        // memcached). Cleared before the new account takes its token slot,
        // so the slots nobody uses any more can go.
        if accounts.by_appid.len() >= MAX_ACCOUNTS {
            accounts.by_appid.clear();
            accounts.last = None;
        }
        None
    });
    if let Some(found) = found {
        return Ok(found);
    }
    let keys = Keys::new(&make_key(&settings.cache_key, appid)?, settings.use_stable_token);
    let servers: Vec<String> = settings.memcache_servers.iter().map(ToString::to_string).collect();
    let account = Rc::new(Account {
        appid: appid.to_string(),
        local: LOCAL_TOKENS.slot(MAX_ACCOUNTS, &format!("{}|{}", servers.join(","), keys.token)),
        keys,
        policy: Policy::new(
            settings.refresh_margin,
            settings.local_cache_ttl,
            settings.token_http.timeout,
            settings.use_stable_token,
        ),
        upstream_id: format!("{}|{}", settings.api_base_url, settings.token_http.ca_file.as_deref().unwrap_or("")),
    });
    ACCOUNTS.with_borrow_mut(|accounts| {
        if accounts.generation != generation {
            accounts.generation = generation;
            accounts.by_appid.clear();
        }
        accounts.by_appid.insert(appid.to_string(), Rc::clone(&account));
        accounts.last = Some(Rc::clone(&account));
    });
    Ok(account)
}

/// How many accounts and memcached keys this process holds tokens for
/// (`php --ri weixin`).
pub fn held() -> (usize, usize) {
    (ACCOUNTS.with_borrow(|accounts| accounts.by_appid.len()), LOCAL_TOKENS.slot_count())
}

/// Runs `job` with the token rules wired to memcached, WeChat and this
/// process's cache, for one account; memcached trouble goes to `warn`, the
/// daily quota warning (`quota`) to `quota_warn`. Every request to WeChat
/// is counted in memcached. Errors come back with the secret masked.
pub fn with_token_service<T>(
    settings: &Settings,
    appid: &str,
    secret: &Secret,
    warn: &dyn Fn(&WeixinError),
    quota_warn: &dyn Fn(&str),
    job: impl FnOnce(&TokenService) -> Result<T, WeixinError>,
) -> Result<T, WeixinError> {
    let account = account(settings, appid)?;
    let store = Memcached {
        servers: &settings.memcache_servers,
        home: &account.keys.token,
        timeout: settings.memcache_timeout,
    };
    let api = WeChatApi {
        base_url: &settings.api_base_url,
        http: &settings.token_http,
    };
    let counters = Counters { servers: &settings.memcache_servers, timeout: settings.memcache_timeout };
    let counting = Quota {
        counter: &counters,
        wall_clock: &quota::unix_now,
        warn_above: settings.daily_quota_warning,
        alarm: &quota::ALARM,
        warn: quota_warn,
    };
    let service = TokenService {
        store: &store,
        upstream: &Counted { inner: &api, quota: &counting },
        clock: &SystemClock,
        local: &account.local,
        keys: &account.keys,
        appid,
        secret,
        upstream_id: &account.upstream_id,
        policy: &account.policy,
        warn,
    };
    job(&service).map_err(|e| e.redact(secret.expose()))
}

/// Today's count of token requests (all servers) for `weixin.appid`, for
/// `php --ri weixin`: the day (YYYYMMDD in Beijing) and the count, or why
/// it cannot be known.
pub fn requests_today(settings: &Settings) -> Result<(u64, u64), WeixinError> {
    if settings.appid.is_empty() {
        return Err(WeixinError::config("no weixin.appid configured"));
    }
    let counters = Counters { servers: &settings.memcache_servers, timeout: settings.memcache_timeout };
    let now = quota::unix_now();
    Ok((quota::beijing_day(now), quota::today(&counters, &settings.appid, now)?))
}
