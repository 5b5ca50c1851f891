//! Fleet-wide quota visibility: every upstream request adds one to a
//! counter in memcached, one counter per AppID, Beijing day and
//! [`Endpoint`], shared by every process and machine that uses that
//! memcached, whatever their `weixin.cache_key`.
//!
//! WeChat limits its endpoints apart: `GET /cgi-bin/token` to 2,000 calls a
//! day per AppID, `POST /cgi-bin/stable_token` to 10,000 a minute and
//! 500,000 a day (isolated from the former), tickets on their own. It
//! resets the daily counts at midnight Beijing time (UTC+8); past a daily
//! limit, it refuses with errcode 45009. A fleet that fetches too often (legacy
//! servers, tools, `weixin.local_cache_ttl=0` without memcached) learns it
//! here before WeChat says so: `php --ri weixin` shows the day's counts for
//! `weixin.appid`, and a process whose `/cgi-bin/token` request brings that
//! count past `weixin.daily_quota_warning` raises one `E_WARNING`.
//!
//! Counting is one atomic memcached round trip (meta arithmetic with
//! auto-create: `ma KEY N<ttl> J1 D1 v`), never re-sent after a lost reply,
//! and never fails a request: when memcached is unreachable or full, or the
//! reply is lost, the request is simply not counted.
//!
//! The day, the keys and the threshold are plain Rust here; the counting is
//! [`Counted`], a decorator of the token rules' [`Upstream`] port, so the
//! rules do not know about it; it counts token requests by their kind and
//! ticket requests on their own counter. memcached's side is
//! `memcached::Counters`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::MAX_KEY_LEN;
use crate::error::WeixinError;
use crate::secret::Secret;
use crate::token::{make_key, FetchedToken, StoreError, TokenKind, Upstream};

/// `/cgi-bin/token` requests WeChat allows per AppID and day.
pub const DAILY_TOKEN_LIMIT: u64 = 2000;

/// `/cgi-bin/stable_token` requests WeChat allows per AppID and day, and
/// per minute (not counted: a day's count is what a fleet can watch).
pub const DAILY_STABLE_TOKEN_LIMIT: u64 = 500_000;
pub const STABLE_TOKEN_LIMIT_PER_MINUTE: u64 = 10_000;

/// How long memcached keeps a day's counter after its first request: the
/// day itself, and the next one for whoever looks back.
pub const COUNTER_TTL: u32 = 2 * SECONDS_PER_DAY as u32;

const SECONDS_PER_DAY: u64 = 86_400;

/// Beijing time is UTC+8 all year (China has no daylight saving time).
const BEIJING_OFFSET: u64 = 8 * 3600;

/// The wall clock in Unix seconds (0 before 1970). The one place the
/// extension needs an absolute date: everything else measures durations.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}

/// The date in Beijing at Unix time `unix_seconds`, as the number YYYYMMDD.
pub fn beijing_day(unix_seconds: u64) -> u64 {
    let (year, month, day) = civil_from_days(unix_seconds.saturating_add(BEIJING_OFFSET) / SECONDS_PER_DAY);
    year * 10_000 + month * 100 + day
}

/// The proleptic Gregorian date `days` days after 1970-01-01 (Howard
/// Hinnant's `civil_from_days`, for days on or after the epoch): counted in
/// 400-year eras of 146,097 days, each year starting on March 1st so that
/// the leap day is the last day of its year.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Days since 0000-03-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months from March (0) to February (11).
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

/// What WeChat limits apart, each counted under keys of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /cgi-bin/token`: 2,000 a day, each call invalidating the
    /// previous token; the count `weixin.daily_quota_warning` watches.
    Token,
    /// `POST /cgi-bin/stable_token`, forced or not: 10,000 a minute and
    /// 500,000 a day, isolated from `/cgi-bin/token`.
    StableToken,
    /// `GET /cgi-bin/ticket/getticket` (jsapi and wx_card together): a
    /// limit of its own.
    Ticket,
}

impl Endpoint {
    /// In the order `php --ri weixin` shows them.
    pub const ALL: [Endpoint; 3] = [Endpoint::Token, Endpoint::StableToken, Endpoint::Ticket];

    /// A token request's endpoint.
    pub fn of_token(kind: TokenKind) -> Endpoint {
        match kind {
            TokenKind::Plain => Endpoint::Token,
            TokenKind::Stable { .. } => Endpoint::StableToken,
        }
    }

    /// A ticket request's, whatever kind the token rules ask for (a ticket
    /// has no stable variant; without memcached they ask for `Stable`).
    pub fn of_ticket(_kind: TokenKind) -> Endpoint {
        Endpoint::Ticket
    }

    /// Its counters' keys start with this. `weixin_requests:` is the key
    /// the version before this split counted every request under: its
    /// servers, during a rolling deploy, add their stable and ticket
    /// requests to it too, which errs on the side a warning should.
    fn key_prefix(self) -> &'static str {
        match self {
            Endpoint::Token => "weixin_requests:",
            Endpoint::StableToken => "weixin_stable_requests:",
            Endpoint::Ticket => "weixin_ticket_requests:",
        }
    }

    /// What it counts, in messages and in `php --ri weixin`.
    pub fn requests(self) -> &'static str {
        match self {
            Endpoint::Token => "token requests",
            Endpoint::StableToken => "stable token requests",
            Endpoint::Ticket => "ticket requests",
        }
    }

    /// WeChat's limits, as `php --ri weixin` states them (`None`: WeChat
    /// states no number).
    pub fn limits(self) -> Option<String> {
        match self {
            Endpoint::Token => Some(format!("WeChat allows {DAILY_TOKEN_LIMIT} a day")),
            Endpoint::StableToken => Some(format!(
                "WeChat allows {STABLE_TOKEN_LIMIT_PER_MINUTE} a minute and {DAILY_STABLE_TOKEN_LIMIT} a day"
            )),
            Endpoint::Ticket => None,
        }
    }

    /// Whether its count passing `weixin.daily_quota_warning` is warned:
    /// the setting concerns `/cgi-bin/token`'s 2,000 a day only.
    fn warned(self) -> bool {
        self == Endpoint::Token
    }

    /// The memcached key of an AppID's counter (`escaped_appid`) for a day
    /// (`beijing_day`): `<prefix><AppID>:<YYYYMMDD>`. Independent of
    /// `weixin.cache_key`: every process of the AppID counts together.
    pub fn key(self, escaped_appid: &str, day: u64) -> String {
        format!("{}{escaped_appid}:{day}", self.key_prefix())
    }
}

/// The AppID as it appears in `endpoint`'s counter key (and in the
/// warning): escaped as `make_key` escapes memcached keys, so a hostile
/// AppID can inject nothing, and short enough for the key to fit
/// memcached's 250 bytes.
pub fn escaped_appid(appid: &str, endpoint: Endpoint) -> Result<String, WeixinError> {
    let longest = MAX_KEY_LEN - endpoint.key_prefix().len() - ":YYYYMMDD".len();
    match make_key("{appid}", appid) {
        Ok(escaped) if escaped.len() <= longest => Ok(escaped),
        _ if appid.is_empty() => Err(WeixinError::local(format!("no AppID to count {} for", endpoint.requests()))),
        _ => Err(WeixinError::local(format!(
            "the AppID is too long to count its {}: over {longest} bytes after escaping",
            endpoint.requests()
        ))),
    }
}

/// What counting needs from memcached.
pub trait DailyCounter {
    /// Adds one to the number under `key`, or creates it as 1, kept `ttl`
    /// seconds; the new count. One atomic command, never sent twice: a lost
    /// reply is `StoreFault::Ambiguous`.
    fn add_one(&self, key: &str, ttl: u32) -> Result<u64, StoreError>;
    /// The number under `key` (0 when there is none).
    fn read(&self, key: &str) -> Result<u64, StoreError>;
}

/// Whether a request that brought the day's count to `count` passes
/// `threshold` (`weixin.daily_quota_warning`; 0: never).
pub fn passes(count: u64, threshold: u64) -> bool {
    threshold != 0 && count > threshold
}

/// Which process has raised its quota warning: its id (0: none yet). A
/// forked child has another id, so it may warn again.
pub struct Alarm(AtomicU32);

/// This process's.
pub static ALARM: Alarm = Alarm::new();

impl Alarm {
    pub const fn new() -> Alarm {
        Alarm(AtomicU32::new(0))
    }

    /// Whether process `pid` should warn about `count`: it passes
    /// `threshold`, and `pid` has not warned yet (claimed here, atomically:
    /// of threads passing it together, one warns).
    pub fn claim(&self, pid: u32, count: u64, threshold: u64) -> bool {
        passes(count, threshold) && self.0.swap(pid, Ordering::Relaxed) != pid
    }
}

impl Default for Alarm {
    fn default() -> Alarm {
        Alarm::new()
    }
}

/// The quota warning: the AppID, the count of `/cgi-bin/token` requests, the
/// setting and WeChat's limit.
pub fn warning_message(escaped_appid: &str, count: u64, threshold: u64) -> String {
    format!(
        "{count} token requests (GET /cgi-bin/token) to WeChat today (Beijing time) for AppID {escaped_appid}, \
         counted by every server sharing memcached, past weixin.daily_quota_warning={threshold}: WeChat \
         allows {DAILY_TOKEN_LIMIT} a day and refuses more (errcode 45009) until midnight Beijing time; find \
         what requests tokens this often (warned once per process)"
    )
}

/// Counting, wired: where counts go, the wall clock, the threshold and how
/// to warn.
pub struct Quota<'a> {
    pub counter: &'a dyn DailyCounter,
    /// Unix seconds (`unix_now`).
    pub wall_clock: &'a dyn Fn() -> u64,
    /// `weixin.daily_quota_warning` (0: off).
    pub warn_above: u64,
    /// Once per process.
    pub alarm: &'a Alarm,
    /// Raises the warning (called on the thread that made the request).
    pub warn: &'a dyn Fn(&str),
}

impl Quota<'_> {
    /// Counts one request to `endpoint` for `appid`: the day's count across
    /// the fleet, or `None` if it could not be counted (memcached
    /// unreachable or full, a lost reply, an AppID too long for a key).
    /// Never an error, never sent twice. Warns when a `/cgi-bin/token`
    /// count passes the threshold, once per process.
    pub fn count(&self, appid: &str, endpoint: Endpoint) -> Option<u64> {
        let escaped = escaped_appid(appid, endpoint).ok()?;
        let key = endpoint.key(&escaped, beijing_day((self.wall_clock)()));
        let count = self.counter.add_one(&key, COUNTER_TTL).ok()?;
        if endpoint.warned() && self.alarm.claim(std::process::id(), count, self.warn_above) {
            (self.warn)(&warning_message(&escaped, count, self.warn_above));
        }
        Some(count)
    }
}

/// The day's count of requests to `endpoint` for `appid` at Unix time
/// `now`, for `php --ri weixin`.
pub fn today(counter: &dyn DailyCounter, endpoint: Endpoint, appid: &str, now: u64) -> Result<u64, WeixinError> {
    let key = endpoint.key(&escaped_appid(appid, endpoint)?, beijing_day(now));
    Ok(counter.read(&key)?)
}

/// The token rules' [`Upstream`], counted: each request is counted just
/// before it is sent, whatever its outcome, on the counter of its endpoint.
/// Before, not after: a request that reached WeChat counts there even if
/// this process then times out or dies, and a request that failed before
/// leaving (a bad CA file) is counted too, which errs on the side a warning
/// should.
pub struct Counted<'a> {
    pub inner: &'a dyn Upstream,
    pub quota: &'a Quota<'a>,
    /// Where a request of a kind goes: `Endpoint::of_token` or `of_ticket`.
    pub endpoint: fn(TokenKind) -> Endpoint,
}

impl Upstream for Counted<'_> {
    fn fetch(&self, appid: &str, secret: &Secret, kind: TokenKind) -> Result<FetchedToken, WeixinError> {
        self.quota.count(appid, (self.endpoint)(kind));
        self.inner.fetch(appid, secret, kind)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};
    use std::collections::HashMap;

    use super::*;
    use crate::token::StoreFault;

    #[test]
    fn the_day_turns_at_midnight_in_beijing() {
        // 2026-11-24T15:59:59Z is 23:59:59 in Beijing; a second later it is the 25th.
        assert_eq!(beijing_day(1_795_535_999), 20_261_124);
        assert_eq!(beijing_day(1_795_536_000), 20_261_125);
        // The epoch was 08:00 in Beijing.
        assert_eq!(beijing_day(0), 19_700_101);
        assert_eq!(beijing_day(16 * 3600 - 1), 19_700_101);
        assert_eq!(beijing_day(16 * 3600), 19_700_102);
        // New year.
        assert_eq!(beijing_day(1_798_732_799), 20_261_231);
        assert_eq!(beijing_day(1_798_732_800), 20_270_101);
    }

    #[test]
    fn leap_years_have_a_29th_of_february() {
        assert_eq!(beijing_day(1_709_136_000), 20_240_229); // 2024: divisible by 4
        assert_eq!(beijing_day(1_709_222_399), 20_240_229);
        assert_eq!(beijing_day(1_709_222_400), 20_240_301);
        assert_eq!(beijing_day(1_677_600_000), 20_230_301); // 2023: not
        assert_eq!(beijing_day(951_753_600), 20_000_229); // 2000: divisible by 400
        assert_eq!(beijing_day(951_840_000), 20_000_301);
        assert_eq!(beijing_day(4_107_513_600), 21_000_301); // 2100: divisible by 100, not 400
        assert!(beijing_day(u64::MAX) > 0, "no overflow");
    }

    /// Every Beijing midnight from 1970 to 2500 against a plain walk
    /// through the calendar.
    #[test]
    fn every_day_for_five_centuries_matches_a_calendar_walk() {
        let leap = |y: u64| (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
        let (mut year, mut month, mut day) = (1970, 1, 1);
        let mut yesterday = 0;
        for days in 0..(531 * 366) {
            let today = year * 10_000 + month * 100 + day;
            assert_eq!(civil_from_days(days), (year, month, day), "day {days}");
            if days > 0 {
                let midnight = days * SECONDS_PER_DAY - BEIJING_OFFSET;
                assert_eq!(beijing_day(midnight), today, "day {days}");
                assert_eq!(beijing_day(midnight - 1), yesterday, "day {days}");
            }
            yesterday = today;
            let length = match month {
                2 if leap(year) => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            day += 1;
            if day > length {
                (day, month) = (1, month + 1);
            }
            if month > 12 {
                (month, year) = (1, year + 1);
            }
        }
        assert!(year >= 2500);
    }

    #[test]
    fn each_endpoint_has_its_own_key() {
        // /cgi-bin/token's is the key the version before the split counted under.
        let keys = Endpoint::ALL.map(|endpoint| endpoint.key(&escaped_appid("wx1234", endpoint).unwrap(), 20_261_124));
        assert_eq!(
            keys,
            [
                "weixin_requests:wx1234:20261124",
                "weixin_stable_requests:wx1234:20261124",
                "weixin_ticket_requests:wx1234:20261124"
            ]
        );
        assert_eq!(Endpoint::of_token(TokenKind::Plain), Endpoint::Token);
        assert_eq!(Endpoint::of_token(TokenKind::Stable { force: false }), Endpoint::StableToken);
        assert_eq!(Endpoint::of_token(TokenKind::Stable { force: true }), Endpoint::StableToken);
        for kind in [TokenKind::Plain, TokenKind::Stable { force: false }] {
            assert_eq!(Endpoint::of_ticket(kind), Endpoint::Ticket);
        }
    }

    #[test]
    fn keys_escape_the_appid_like_token_keys_and_fit_memcached() {
        for endpoint in Endpoint::ALL {
            let prefix = endpoint.key_prefix();
            let hostile = "x 0 0 1\r\nset evil 0 0 1\r\nA";
            let key = endpoint.key(&escaped_appid(hostile, endpoint).unwrap(), 20_261_124);
            assert_eq!(key, format!("{prefix}{}:20261124", make_key("{appid}", hostile).unwrap()));
            assert!(key.bytes().all(|b| b.is_ascii_graphic()), "{key}");
            // '%' is escaped too: distinct AppIDs, distinct counters.
            assert_ne!(escaped_appid("a b", endpoint).unwrap(), escaped_appid("a%20b", endpoint).unwrap());
            let longest = MAX_KEY_LEN - prefix.len() - 9;
            let key = endpoint.key(&escaped_appid(&"x".repeat(longest), endpoint).unwrap(), 20_261_124);
            assert_eq!(key.len(), MAX_KEY_LEN, "{endpoint:?}");
            assert!(escaped_appid(&"x".repeat(longest + 1), endpoint).is_err());
            assert!(escaped_appid(&" ".repeat(longest / 3 + 1), endpoint).is_err(), "measured after escaping");
            assert!(escaped_appid(&"x".repeat(1000), endpoint).is_err());
            let message = escaped_appid("", endpoint).unwrap_err().message;
            assert!(message.contains(endpoint.requests()), "{message}");
        }
    }

    #[test]
    fn the_threshold_is_passed_above_it_and_zero_is_off() {
        assert!(!passes(1600, 1600));
        assert!(passes(1601, 1600));
        assert!(!passes(u64::MAX, 0));
        assert!(passes(2, 1));
    }

    #[test]
    fn a_process_warns_once_and_a_forked_child_again() {
        let alarm = Alarm::new();
        assert!(!alarm.claim(100, 5, 10), "not past it yet");
        assert!(!alarm.claim(100, 12, 0), "off");
        assert!(alarm.claim(100, 11, 10));
        assert!(!alarm.claim(100, 12, 10), "once");
        assert!(!alarm.claim(100, 5000, 10));
        assert!(alarm.claim(101, 13, 10), "another process (a forked child)");
        assert!(!alarm.claim(101, 14, 10));
    }

    #[test]
    fn the_warning_names_the_appid_count_setting_and_limit() {
        let message = warning_message("wx1234", 1601, 1600);
        for part in [
            "wx1234",
            "1601 token requests (GET /cgi-bin/token)",
            "weixin.daily_quota_warning=1600",
            "2000 a day",
            "45009",
            "Beijing",
        ] {
            assert!(message.contains(part), "{part}: {message}");
        }
    }

    /// memcached as a map, or down.
    #[derive(Default)]
    struct FakeCounter {
        counts: RefCell<HashMap<String, u64>>,
        ttls: RefCell<Vec<u32>>,
        fault: Option<StoreFault>,
    }

    impl DailyCounter for FakeCounter {
        fn add_one(&self, key: &str, ttl: u32) -> Result<u64, StoreError> {
            if let Some(fault) = self.fault {
                return Err(StoreError::new(fault, "memcached at 127.0.0.1:1 failed"));
            }
            self.ttls.borrow_mut().push(ttl);
            let mut counts = self.counts.borrow_mut();
            let count = counts.entry(key.to_string()).or_insert(0);
            *count += 1;
            Ok(*count)
        }

        fn read(&self, key: &str) -> Result<u64, StoreError> {
            match self.fault {
                Some(fault) => Err(StoreError::new(fault, "memcached at 127.0.0.1:1 failed")),
                None => Ok(self.counts.borrow().get(key).copied().unwrap_or(0)),
            }
        }
    }

    /// WeChat as a script: succeeds or fails, and notes what the AppID's
    /// counters held together when each request went out.
    struct FakeUpstream<'a> {
        counter: &'a FakeCounter,
        fail: bool,
        seen_counts: RefCell<Vec<u64>>,
    }

    impl Upstream for FakeUpstream<'_> {
        fn fetch(&self, appid: &str, _secret: &Secret, _kind: TokenKind) -> Result<FetchedToken, WeixinError> {
            let counts = self.counter.counts.borrow();
            let day = beijing_day(NOW.with(Cell::get));
            let held = Endpoint::ALL.iter().map(|e| counts.get(&e.key(appid, day)).copied().unwrap_or(0)).sum();
            self.seen_counts.borrow_mut().push(held);
            if self.fail {
                return Err(WeixinError::wechat(-1, "system error"));
            }
            Ok(FetchedToken { token: format!("token-{}", self.seen_counts.borrow().len()), expires_in: 7200 })
        }
    }

    thread_local! {
        static NOW: Cell<u64> = const { Cell::new(1_795_535_999) };
    }

    fn now() -> u64 {
        NOW.with(Cell::get)
    }

    struct Run {
        tokens: Vec<Result<String, WeixinError>>,
        warnings: Vec<String>,
        seen_counts: Vec<u64>,
    }

    /// Plain token requests for `appids`, in order, in one process.
    fn fetch_all(counter: &FakeCounter, fail: bool, warn_above: u64, appids: &[&str]) -> Run {
        let requests: Vec<_> = appids.iter().map(|appid| (*appid, TokenKind::Plain)).collect();
        fetch_each(counter, fail, warn_above, Endpoint::of_token, &requests)
    }

    /// `requests` (AppID, kind), in order, in one process, counted as
    /// `endpoint` says.
    fn fetch_each(
        counter: &FakeCounter,
        fail: bool,
        warn_above: u64,
        endpoint: fn(TokenKind) -> Endpoint,
        requests: &[(&str, TokenKind)],
    ) -> Run {
        let warnings = RefCell::new(Vec::new());
        let warn = |message: &str| warnings.borrow_mut().push(message.to_string());
        let alarm = Alarm::new();
        let quota = Quota { counter, wall_clock: &now, warn_above, alarm: &alarm, warn: &warn };
        let upstream = FakeUpstream { counter, fail, seen_counts: RefCell::new(Vec::new()) };
        let counted = Counted { inner: &upstream, quota: &quota, endpoint };
        let secret = Secret::new("0123456789abcdef0123456789abcdef");
        let tokens =
            requests.iter().map(|(appid, kind)| counted.fetch(appid, &secret, *kind).map(|t| t.token)).collect();
        Run { tokens, warnings: warnings.into_inner(), seen_counts: upstream.seen_counts.into_inner() }
    }

    const STABLE: TokenKind = TokenKind::Stable { force: false };
    const FORCED: TokenKind = TokenKind::Stable { force: true };

    #[test]
    fn plain_and_stable_token_requests_are_counted_apart() {
        let counter = FakeCounter::default();
        let requests =
            [("wx1", TokenKind::Plain), ("wx1", STABLE), ("wx1", FORCED), ("wx1", STABLE), ("wx1", TokenKind::Plain)];
        let run = fetch_each(&counter, false, 0, Endpoint::of_token, &requests);
        assert!(run.tokens.iter().all(Result::is_ok));
        assert_eq!(run.seen_counts, [1, 2, 3, 4, 5], "each counted once, before it went out");
        let counts = counter.counts.borrow();
        assert_eq!(counts.get("weixin_requests:wx1:20261124"), Some(&2), "/cgi-bin/token only");
        assert_eq!(counts.get("weixin_stable_requests:wx1:20261124"), Some(&3), "forced or not");
        assert_eq!(counts.len(), 2);
        assert_eq!(*counter.ttls.borrow(), [COUNTER_TTL; 5]);
        drop(counts);
        assert_eq!(today(&counter, Endpoint::Token, "wx1", now()).unwrap(), 2);
        assert_eq!(today(&counter, Endpoint::StableToken, "wx1", now()).unwrap(), 3);
        assert_eq!(today(&counter, Endpoint::Ticket, "wx1", now()).unwrap(), 0);
    }

    #[test]
    fn stable_token_requests_never_warn_and_do_not_move_the_plain_count() {
        let counter = FakeCounter::default();
        let mut requests = vec![("wx1", STABLE); 5];
        requests.push(("wx1", FORCED));
        let run = fetch_each(&counter, false, 1, Endpoint::of_token, &requests);
        assert!(run.warnings.is_empty(), "6 stable requests past a threshold of 1: {:?}", run.warnings);
        // The threshold is measured against /cgi-bin/token's count alone:
        // its first request makes 1 (not past 1), its second 2.
        let run = fetch_each(&counter, false, 1, Endpoint::of_token, &[("wx1", TokenKind::Plain)]);
        assert!(run.warnings.is_empty(), "{:?}", run.warnings);
        let run = fetch_each(&counter, false, 1, Endpoint::of_token, &[("wx1", STABLE), ("wx1", TokenKind::Plain)]);
        assert_eq!(run.warnings.len(), 1, "{:?}", run.warnings);
        assert!(run.warnings[0].starts_with("2 token requests (GET /cgi-bin/token)"), "{}", run.warnings[0]);
        let counts = counter.counts.borrow();
        assert_eq!(counts.get("weixin_stable_requests:wx1:20261124"), Some(&7));
        assert_eq!(counts.get("weixin_requests:wx1:20261124"), Some(&2));
    }

    #[test]
    fn ticket_requests_have_their_own_count_whatever_kind_the_rules_ask_for() {
        let counter = FakeCounter::default();
        // Without memcached the rules ask for a stable "token"; a ticket has none.
        let requests = [("wx1", TokenKind::Plain), ("wx1", STABLE), ("wx1", TokenKind::Plain)];
        let run = fetch_each(&counter, false, 1, Endpoint::of_ticket, &requests);
        assert!(run.tokens.iter().all(Result::is_ok));
        assert!(run.warnings.is_empty(), "the warning concerns /cgi-bin/token: {:?}", run.warnings);
        let counts = counter.counts.borrow();
        assert_eq!(counts.get("weixin_ticket_requests:wx1:20261124"), Some(&3));
        assert_eq!(counts.len(), 1, "nothing in the token counts: {counts:?}");
    }

    #[test]
    fn the_limits_are_wechats() {
        assert_eq!(Endpoint::Token.limits().unwrap(), "WeChat allows 2000 a day");
        assert_eq!(Endpoint::StableToken.limits().unwrap(), "WeChat allows 10000 a minute and 500000 a day");
        assert_eq!(Endpoint::Ticket.limits(), None);
    }

    #[test]
    fn each_upstream_request_is_counted_once_before_it_is_sent() {
        let counter = FakeCounter::default();
        let run = fetch_all(&counter, false, 0, &["wx1", "wx1", "wx2", "wx1"]);
        assert_eq!(run.tokens.len(), 4);
        assert!(run.tokens.iter().all(Result::is_ok));
        assert_eq!(run.seen_counts, [1, 2, 1, 3], "counted before the request went out");
        let counts = counter.counts.borrow();
        assert_eq!(counts.get("weixin_requests:wx1:20261124"), Some(&3));
        assert_eq!(counts.get("weixin_requests:wx2:20261124"), Some(&1));
        assert_eq!(*counter.ttls.borrow(), [COUNTER_TTL; 4]);
        assert_eq!(COUNTER_TTL, 172_800);
        assert!(run.warnings.is_empty(), "0: off");
    }

    #[test]
    fn failed_requests_are_counted_too() {
        let counter = FakeCounter::default();
        let run = fetch_all(&counter, true, 0, &["wx1", "wx1"]);
        assert!(run.tokens.iter().all(|t| t.as_ref().is_err_and(|e| e.code == -1)), "WeChat's error, unchanged");
        assert_eq!(counter.counts.borrow().get("weixin_requests:wx1:20261124"), Some(&2));
    }

    #[test]
    fn a_counter_that_fails_never_fails_the_request() {
        for fault in [StoreFault::Unreachable, StoreFault::Full, StoreFault::Ambiguous] {
            let counter = FakeCounter { fault: Some(fault), ..FakeCounter::default() };
            let run = fetch_all(&counter, false, 1, &["wx1", "wx1", "wx1"]);
            assert_eq!(run.tokens.iter().filter(|t| t.is_ok()).count(), 3, "{fault:?}");
            assert!(run.warnings.is_empty(), "{fault:?}: nothing known, nothing said");
            assert!(counter.ttls.borrow().is_empty());
        }
        // An AppID too long for a key: not counted, still fetched.
        let counter = FakeCounter::default();
        let long = "x".repeat(300);
        let run = fetch_all(&counter, false, 1, &[&long]);
        assert!(run.tokens[0].is_ok());
        assert!(counter.counts.borrow().is_empty());
    }

    #[test]
    fn one_warning_per_process_once_the_count_passes_the_threshold() {
        let counter = FakeCounter::default();
        let run = fetch_all(&counter, false, 2, &["wx1", "wx1", "wx1", "wx1", "wx1"]);
        assert_eq!(run.warnings.len(), 1, "{:?}", run.warnings);
        assert!(run.warnings[0].starts_with("3 token requests"), "the request that passed it: {}", run.warnings[0]);
        assert!(run.warnings[0].contains("AppID wx1") && run.warnings[0].contains("=2:"), "{}", run.warnings[0]);
        // The AppID in the warning is escaped: no line breaks in logs.
        let counter = FakeCounter::default();
        let run = fetch_all(&counter, false, 1, &["wx\n1", "wx\n1"]);
        assert_eq!(run.warnings.len(), 1);
        assert!(run.warnings[0].contains("AppID wx%0A1") && !run.warnings[0].contains('\n'), "{}", run.warnings[0]);
    }

    #[test]
    fn a_new_day_starts_a_new_count() {
        let counter = FakeCounter::default();
        fetch_all(&counter, false, 0, &["wx1", "wx1"]);
        NOW.with(|now| now.set(1_795_536_000));
        fetch_all(&counter, false, 0, &["wx1"]);
        NOW.with(|now| now.set(1_795_535_999));
        let counts = counter.counts.borrow();
        assert_eq!(counts.get("weixin_requests:wx1:20261124"), Some(&2));
        assert_eq!(counts.get("weixin_requests:wx1:20261125"), Some(&1));
        drop(counts);
        assert_eq!(today(&counter, Endpoint::Token, "wx1", 1_795_536_000).unwrap(), 1);
        assert_eq!(today(&counter, Endpoint::Token, "wx1", 1_795_535_999).unwrap(), 2);
        assert_eq!(today(&counter, Endpoint::Token, "wx2", 1_795_535_999).unwrap(), 0);
        assert!(today(&counter, Endpoint::Token, "", 1_795_535_999).is_err());
        let down = FakeCounter { fault: Some(StoreFault::Unreachable), ..FakeCounter::default() };
        assert!(today(&down, Endpoint::StableToken, "wx1", 0).unwrap_err().message.contains("127.0.0.1:1"));
    }
}
