//! One account's token service, wired to this process's memcached
//! connections, the WeChat API, the process-local token cache and the
//! threads that replace due tokens (`background`). What an account needs
//! (keys, policy) is derived from the settings once per INI change, not on
//! every construction.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use crate::background::{self, Refused};
use crate::config::Settings;
use crate::error::WeixinError;
use crate::machine_share::MachineFile;
use crate::memcached::{Counters, Memcached};
use crate::process::{self, Inherited, PerProcess};
use crate::quota::{self, Counted, Endpoint, Quota};
use crate::secret::{self, Secret};
use crate::tickets::{TicketApi, TicketKind};
use crate::token::{
    make_key, AheadJob, BackgroundRefresh, Handoff, Inline, Keys, LocalCache, LocalSlot, Policy, SystemClock,
    TokenService, Upstream,
};
use crate::wechat::WeChatApi;

/// Process-wide state of the token rules: tokens this process holds. A
/// child of fork() starts without: a slot may have been locked at the fork.
static LOCAL_TOKENS: PerProcess<LocalCache> = PerProcess::new(Inherited::Dropped);

/// What one account's lookups need, derived from the settings once (a
/// thread replacing its token works on a copy).
#[derive(Clone)]
struct Account {
    appid: String,
    /// The key `weixin.cache_key` gives (tickets are kept beside it).
    base_key: String,
    keys: Keys,
    /// The memcached pool and key: its token slot's name, and its
    /// replacements' (one at a time per process).
    slot_name: String,
    /// The token this process holds for the account's memcached pool and key.
    local: Arc<LocalSlot>,
    policy: Policy,
    /// The API base URL, CA and proxy settings: with the credentials, whose
    /// failure a marker in the lock is.
    upstream_id: String,
    /// What the processes of this machine share the token under while
    /// memcached is away (no secret in it).
    machine_name: String,
}

/// The upstream part of a failure marker's fingerprint (only ever hashed).
/// Without a proxy it is what it was before `weixin.proxy` existed, so
/// processes of both versions share markers during a rolling deploy.
fn upstream_id(settings: &Settings) -> String {
    let ca_file = settings.token_http.ca_file.as_deref().unwrap_or("");
    match &settings.token_http.proxy {
        None => format!("{}|{ca_file}", settings.api_base_url),
        Some(proxy) => format!("{}|{ca_file}|{}", settings.api_base_url, proxy.identity()),
    }
}

/// Accounts by AppID, for one parse of the settings; the last one used is
/// checked first (most processes serve one account).
struct Accounts {
    /// The settings' generation and the process's (a forked child's
    /// accounts point at the parent's token slots).
    generation: (u64, u64),
    last: Option<Rc<Account>>,
    by_appid: HashMap<String, Rc<Account>>,
}

/// Accounts (and token slots) one process keeps.
pub const MAX_ACCOUNTS: usize = 4096;

thread_local! {
    static ACCOUNTS: RefCell<Accounts> =
        RefCell::new(Accounts { generation: (u64::MAX, u64::MAX), last: None, by_appid: HashMap::new() });
}

fn account(settings: &Settings, appid: &str) -> Result<Rc<Account>, WeixinError> {
    let generation = (settings.generation, process::generation());
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
    let base_key = make_key(&settings.cache_key, appid)?;
    let keys = Keys::new(&base_key, settings.use_stable_token);
    let slot_name = pool_and_key(settings, &keys);
    let upstream_id = upstream_id(settings);
    let account = Rc::new(Account {
        appid: appid.to_string(),
        base_key,
        local: LOCAL_TOKENS.lock().slot(MAX_ACCOUNTS, &slot_name),
        keys,
        policy: Policy::new(
            settings.refresh_margin,
            settings.local_cache_ttl,
            settings.token_http.timeout,
            settings.use_stable_token,
        ),
        machine_name: machine_name(&slot_name, appid, &upstream_id),
        slot_name,
        upstream_id,
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
    (ACCOUNTS.with_borrow(|accounts| accounts.by_appid.len()), LOCAL_TOKENS.lock().slot_count())
}

/// Runs `job` with the token rules wired to memcached, WeChat and this
/// process's cache, for one account; memcached trouble goes to `warn`,
/// every other warning to `also_warn`: the daily quota's, and those that
/// this process's threads replacing the account's due tokens
/// (`background`) left, given to its next lookup. Every request to WeChat
/// is counted (`quota`), on its endpoint's counter. Errors come back with
/// the secret masked.
pub fn with_token_service<T>(
    settings: &Settings,
    appid: &str,
    secret: &Secret,
    warn: &dyn Fn(&WeixinError),
    also_warn: &dyn Fn(&str),
    job: impl FnOnce(&TokenService) -> Result<T, WeixinError>,
) -> Result<T, WeixinError> {
    let account = account(settings, appid)?;
    raise_left_warnings(&account, also_warn);
    let background = Threaded { settings, account: &account, secret, ticket: None, name: &account.slot_name };
    let caller = Caller { settings, account: &account, secret, warn, also_warn };
    with_account(&caller, &background, |tokens, _| job(tokens))
}

/// Runs `job` with the token rules applied to a JS-SDK ticket of the
/// account: kept under its own key, fetched with the account's token.
pub fn with_ticket_service<T>(
    settings: &Settings,
    appid: &str,
    secret: &Secret,
    kind: TicketKind,
    warn: &dyn Fn(&WeixinError),
    also_warn: &dyn Fn(&str),
    job: impl FnOnce(&TokenService) -> Result<T, WeixinError>,
) -> Result<T, WeixinError> {
    let account = account(settings, appid)?;
    raise_left_warnings(&account, also_warn);
    let ticket = TicketSlot::new(settings, &account, kind)?;
    let background = Threaded { settings, account: &account, secret, ticket: None, name: &account.slot_name };
    let tickets_background =
        Threaded { settings, account: &account, secret, ticket: Some(kind), name: &ticket.slot_name };
    let tickets = TicketWiring { ticket: &ticket, background: &tickets_background };
    let caller = Caller { settings, account: &account, secret, warn, also_warn };
    with_tickets(&caller, &background, &tickets, job)
}

/// The warnings this process's threads left for the account (its pool and
/// key), for a lookup on a PHP thread to raise: not another account's, as
/// one PHP may serve several apps.
#[inline(always)]
fn raise_left_warnings(account: &Account, also_warn: &dyn Fn(&str)) {
    if background::warnings_left() {
        pass_left_warnings(account, also_warn);
    }
}

#[cold]
#[inline(never)]
fn pass_left_warnings(account: &Account, also_warn: &dyn Fn(&str)) {
    for message in background::take_warnings(&account.slot_name) {
        also_warn(&message);
    }
}

/// Whose lookup it is, and where its trouble goes.
#[derive(Clone, Copy)]
struct Caller<'a> {
    settings: &'a Settings,
    account: &'a Account,
    secret: &'a Secret<'a>,
    /// memcached trouble.
    warn: &'a dyn Fn(&WeixinError),
    /// Any other warning (the daily quota's).
    also_warn: &'a dyn Fn(&str),
}

/// What a ticket of an account is kept under, derived on each lookup.
struct TicketSlot {
    kind: TicketKind,
    keys: Keys,
    slot_name: String,
    local: Arc<LocalSlot>,
    policy: Policy,
    machine_name: String,
}

impl TicketSlot {
    fn new(settings: &Settings, account: &Account, kind: TicketKind) -> Result<TicketSlot, WeixinError> {
        let keys = Keys::new(&kind.key(&account.base_key)?, false);
        let slot_name = pool_and_key(settings, &keys);
        let local = LOCAL_TOKENS.lock().slot(MAX_ACCOUNTS, &slot_name);
        // A ticket request may first wait for the token and replace it
        // once: its lock is held for three requests.
        let policy =
            Policy::new(settings.refresh_margin, settings.local_cache_ttl, settings.token_http.timeout * 3, false);
        let machine_name = machine_name(&slot_name, &account.appid, &account.upstream_id);
        Ok(TicketSlot { kind, keys, slot_name, local, policy, machine_name })
    }
}

/// A ticket's slot and where its due replacements go.
struct TicketWiring<'a> {
    ticket: &'a TicketSlot,
    background: &'a dyn BackgroundRefresh,
}

/// The ticket service of `tickets` over the account's token service, for `job`.
fn with_tickets<T>(
    caller: &Caller,
    background: &dyn BackgroundRefresh,
    tickets: &TicketWiring,
    job: impl FnOnce(&TokenService) -> Result<T, WeixinError>,
) -> Result<T, WeixinError> {
    let Caller { settings, account, secret, warn, .. } = *caller;
    with_account(caller, background, |tokens, counting| {
        let ticket = tickets.ticket;
        let store = store(settings, &ticket.keys);
        let api = TicketApi { tokens, base_url: &settings.api_base_url, http: &settings.token_http, kind: ticket.kind };
        let machine = MachineFile { name: &ticket.machine_name };
        let service = TokenService {
            store: &store,
            machine: Some(&machine),
            background: tickets.background,
            upstream: &Counted { inner: &api, quota: counting, endpoint: Endpoint::of_ticket },
            clock: &SystemClock,
            local: &ticket.local,
            keys: &ticket.keys,
            appid: &account.appid,
            secret,
            upstream_id: &account.upstream_id,
            policy: &ticket.policy,
            warn,
        };
        job(&service)
    })
}

/// The account's token service (memcached, WeChat, the daily count, the
/// local slot, where due tokens are replaced) and its daily count, for
/// `job`; errors come back with the secret masked.
fn with_account<T>(
    caller: &Caller,
    background: &dyn BackgroundRefresh,
    job: impl FnOnce(&TokenService, &Quota) -> Result<T, WeixinError>,
) -> Result<T, WeixinError> {
    let Caller { settings, account, secret, warn, also_warn } = *caller;
    let store = store(settings, &account.keys);
    let api = WeChatApi { base_url: &settings.api_base_url, http: &settings.token_http };
    let counters = counters(settings);
    let counting = counting(settings, &counters, also_warn);
    let upstream = Counted { inner: &api, quota: &counting, endpoint: Endpoint::of_token };
    let machine = MachineFile { name: &account.machine_name };
    let service = token_service(account, &store, &upstream, &machine, background, secret, warn);
    job(&service, &counting).map_err(|e| e.redact(secret.expose()))
}

/// An account's `BackgroundRefresh`: a thread of this process
/// (`background`) that wires the token (or ticket) service again from its
/// own copies of the settings, the account and the secret, and finishes
/// the job there.
struct Threaded<'a> {
    settings: &'a Settings,
    account: &'a Account,
    secret: &'a Secret<'a>,
    /// `None`: the account's token; else that ticket.
    ticket: Option<TicketKind>,
    /// The slot's: one replacement per name runs in a process.
    name: &'a str,
}

impl BackgroundRefresh for Threaded<'_> {
    fn running(&self) -> bool {
        background::running(self.name)
    }

    fn start(&self, job: AheadJob) -> Handoff {
        let owned = Replacement {
            settings: self.settings.clone(),
            account: self.account.clone(),
            secret: Secret::new(self.secret.expose()),
            ticket: self.ticket,
        };
        let theirs = job.clone();
        match background::start(self.name, move || owned.finish(theirs)) {
            Ok(()) => Handoff::Started,
            Err(Refused::Running) => Handoff::Running(job),
            Err(Refused::NoThread) => Handoff::Cannot(job),
        }
    }
}

/// What a thread needs to finish a replacement: owned copies (the secret
/// stays a `Secret`).
struct Replacement {
    settings: Settings,
    account: Account,
    secret: Secret<'static>,
    ticket: Option<TicketKind>,
}

impl Replacement {
    /// Wires the service as a lookup does, except that anything due is
    /// replaced right here (this thread keeps nobody waiting), and finishes
    /// `job`. Warnings are left for the next lookup on a PHP thread, free of
    /// the secret.
    fn finish(self, job: AheadJob) {
        let Replacement { settings, account, secret, ticket } = self;
        let warn = |error: &WeixinError| {
            let what = match ticket {
                None => format!("the token under {}", account.keys.token),
                Some(kind) => format!("the {} ticket of {}", kind.name(), account.appid),
            };
            let message = error.clone().redact(secret.expose()).message;
            background::leave_warning(
                &account.slot_name,
                format!("while {what} was replaced in the background: {message}"),
            );
        };
        let quota_warn =
            |message: &str| background::leave_warning(&account.slot_name, secret::redact(message, secret.expose()));
        let caller =
            Caller { settings: &settings, account: &account, secret: &secret, warn: &warn, also_warn: &quota_warn };
        let _ = match ticket {
            None => with_account(&caller, &Inline, |tokens, _| {
                tokens.finish_ahead(job);
                Ok(())
            }),
            Some(kind) => TicketSlot::new(&settings, &account, kind).and_then(|slot| {
                let tickets = TicketWiring { ticket: &slot, background: &Inline };
                with_tickets(&caller, &Inline, &tickets, |tickets| {
                    tickets.finish_ahead(job);
                    Ok(())
                })
            }),
        };
    }
}

/// Waits for this process's threads replacing due tokens to end: at the
/// module's shutdown (each is bounded by its own timeouts).
pub fn wait_for_background() {
    background::wait_for_all();
}

fn store<'a>(settings: &'a Settings, keys: &'a Keys) -> Memcached<'a> {
    Memcached {
        servers: &settings.memcache_servers,
        home: &keys.token,
        timeout: settings.memcache_timeout,
        protocol: settings.memcache_protocol,
        distribution: settings.memcache_distribution,
    }
}

fn counters(settings: &Settings) -> Counters<'_> {
    Counters {
        servers: &settings.memcache_servers,
        timeout: settings.memcache_timeout,
        protocol: settings.memcache_protocol,
        distribution: settings.memcache_distribution,
    }
}

/// The fleet's daily count of requests to WeChat, and its warning.
fn counting<'a>(settings: &Settings, counters: &'a Counters<'a>, quota_warn: &'a dyn Fn(&str)) -> Quota<'a> {
    Quota {
        counter: counters,
        wall_clock: &quota::unix_now,
        warn_above: settings.daily_quota_warning,
        alarm: &quota::ALARM,
        warn: quota_warn,
    }
}

fn token_service<'a>(
    account: &'a Account,
    store: &'a Memcached<'a>,
    upstream: &'a dyn Upstream,
    machine: &'a MachineFile<'a>,
    background: &'a dyn BackgroundRefresh,
    secret: &'a Secret<'a>,
    warn: &'a dyn Fn(&WeixinError),
) -> TokenService<'a> {
    TokenService {
        store,
        upstream,
        machine: Some(machine),
        background,
        clock: &SystemClock,
        local: &account.local,
        keys: &account.keys,
        appid: &account.appid,
        secret,
        upstream_id: &account.upstream_id,
        policy: &account.policy,
        warn,
    }
}

/// The name the processes of this machine share a token under: its slot's
/// name, the account and the upstream.
fn machine_name(slot_name: &str, appid: &str, upstream_id: &str) -> String {
    format!("{slot_name}|{appid}|{upstream_id}")
}

/// A token slot's name: the memcached pool and the key.
fn pool_and_key(settings: &Settings, keys: &Keys) -> String {
    let servers: Vec<String> = settings.memcache_servers.iter().map(ToString::to_string).collect();
    format!("{}|{}", servers.join(","), keys.token)
}

/// Today's count of requests to `endpoint` (all servers) for
/// `weixin.appid`, for `php --ri weixin`: the day (YYYYMMDD in Beijing) and
/// the count, or why it cannot be known.
pub fn requests_today(settings: &Settings, endpoint: Endpoint) -> Result<(u64, u64), WeixinError> {
    if settings.appid.is_empty() {
        return Err(WeixinError::config("no weixin.appid configured"));
    }
    let counters = counters(settings);
    let now = quota::unix_now();
    Ok((quota::beijing_day(now), quota::today(&counters, endpoint, &settings.appid, now)?))
}
