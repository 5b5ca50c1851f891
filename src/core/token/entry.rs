//! A token and its life: when it is due for replacement, until when it is
//! served, how long memcached keeps it, and how that is shared.
//!
//! Times here are this process's own clock. What goes to memcached is
//! relative: `KEY:meta` holds seconds counted from the write, and memcached
//! keeps it until the token is due. A reader that speaks the meta protocol
//! learns how long ago the write was from memcached itself (the plain key's
//! remaining TTL); one that speaks classic text commands learns only
//! whether the record is still there, that is whether the token is due.
//! Either way memcached measures the time, so machines whose clocks
//! disagree still agree on a token's age.

use super::policy::STABLE_END_GUARD;
use super::ports::{Age, FetchedToken, Sighting};

/// The record's format: `v3` records live until the token is due (`v2`,
/// written by older versions, lived as long as the token: they say nothing
/// to a reader that cannot ask memcached for a key's TTL).
const RECORD: &str = "v3";
const RECORD_KEPT_WITH_TOKEN: &str = "v2";

/// How long a token seen in memcached, whose age memcached does not tell,
/// is served by this process without looking again: only for the lookup
/// that saw it.
const THIS_LOOKUP: f64 = 0.001;

/// memcached reads an expiry over 30 days as a Unix timestamp.
pub const MAX_RELATIVE_TTL: u64 = 30 * 24 * 3600;

/// Longest value taken for a token; anything longer is not one.
pub const MAX_TOKEN_LEN: usize = 2048;

/// Whether a value looks like an access token: anything else (the empty
/// string legacy code caches after a failure, text with spaces) is a miss.
pub fn is_token(value: &str) -> bool {
    !value.is_empty() && value.len() <= MAX_TOKEN_LEN && value.bytes().all(|b| b.is_ascii_graphic())
}

/// A token and what is known of its life, on this process's clock.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub token: String,
    /// From here on, one process should replace it.
    pub refresh_at: f64,
    /// Served until here.
    pub expires_at: f64,
    /// When WeChat's own lifetime (`expires_in`) ends.
    pub dies_at: f64,
}

impl Entry {
    pub fn fresh(fetched: FetchedToken, now: f64, refresh_margin: u64) -> Entry {
        let lifetime = fetched.expires_in.clamp(1, MAX_RELATIVE_TTL);
        let refresh_after = refresh_delay(lifetime, refresh_margin) as u64;
        Entry {
            token: fetched.token,
            refresh_at: now + refresh_after as f64,
            expires_at: now + serve_ttl(lifetime, refresh_after) as f64,
            dies_at: now + lifetime as f64,
        }
    }

    /// A stable token as WeChat gives it: `expires_in` is the life it has
    /// left (the same token comes back until it dies). One in its last
    /// stretch (no more than the refresh margin left) is served to the end,
    /// but for the time a call takes to reach WeChat, and not asked for
    /// again before it dies: WeChat would only give it again.
    pub fn stable(fetched: FetchedToken, now: f64, refresh_margin: u64) -> Entry {
        if fetched.expires_in > refresh_margin {
            // Never served into its last seconds, whatever the margin.
            let mut entry = Entry::fresh(fetched, now, refresh_margin);
            entry.expires_at = entry.expires_at.min(entry.dies_at - STABLE_END_GUARD);
            entry.refresh_at = entry.refresh_at.min(entry.expires_at);
            return entry;
        }
        let dies_at = now + fetched.expires_in.min(MAX_RELATIVE_TTL) as f64;
        let served_until = dies_at - STABLE_END_GUARD;
        Entry { token: fetched.token, refresh_at: served_until, expires_at: served_until, dies_at }
    }

    /// Whether what is left of it is no more than the last seconds it is
    /// not served.
    pub fn at_its_end(&self, now: f64) -> bool {
        self.expires_at <= now
    }

    /// A token cached by legacy code: nothing is known of it but how long
    /// memcached keeps it, and legacy code caches a token for its lifetime.
    /// So it is served until memcached drops it (less a second: memcached
    /// may drop it a second early) and due `refresh_margin` before, like
    /// ours; one with no expiry is used as it is.
    pub fn legacy(token: String, kept_for: Option<u32>, now: f64, refresh_margin: u64) -> Entry {
        let expires_at = kept_for.map_or(f64::INFINITY, |kept_for| now + f64::from(kept_for) - 1.0);
        Entry { token, refresh_at: expires_at - refresh_margin as f64, expires_at, dies_at: expires_at + 1.0 }
    }

    /// `KEY:meta` for a write at `now` whose plain key memcached keeps
    /// `ttl` seconds: `v3 ttl refresh_after serve_for dies_after token`,
    /// each time in seconds after the write.
    pub fn encode(&self, now: f64, ttl: u32) -> String {
        format!(
            "{RECORD} {ttl} {:.3} {:.3} {:.3} {}",
            self.refresh_at - now,
            self.expires_at - now,
            self.dies_at - now,
            self.token
        )
    }

    /// Seconds memcached keeps `KEY:meta`: until the token is due (at least
    /// a second, never longer than the token itself).
    pub fn record_ttl(&self, now: f64, ttl: u32) -> u32 {
        ((self.refresh_at - now).ceil().max(1.0) as u64).min(u64::from(ttl)) as u32
    }

    /// The shared token as memcached shows it, on this process's clock;
    /// `known`: what this process already knows of a token.
    pub fn sighted(sighting: Sighting, known: Option<Entry>, now: f64, refresh_margin: u64) -> Entry {
        let Sighting { token, record, age } = sighting;
        let known = known.filter(|k| k.token == token);
        match age {
            Age::KeptFor(kept_for) => match (record, known) {
                (None, Some(known)) => known,
                (record, _) => record
                    .and_then(|r| Entry::decode(&r, &token, kept_for, now))
                    .unwrap_or_else(|| Entry::legacy(token, kept_for, now, refresh_margin)),
            },
            Age::Untold => match record
                .as_deref()
                .and_then(|r| Lifetimes::parse(r, &token, &[RECORD]))
                .filter(|life| life.refresh_after > 0.0)
            {
                Some(life) => Entry::not_due(token, &life, known, now),
                None => Entry::due(token, known.as_ref(), now),
            },
        }
    }

    /// A token whose record is still there: not due, and no older than
    /// the record's own TTL (`record_ttl`: `refresh_after` rounded up) by
    /// memcached's count (a second more for its coarse clock). What this
    /// process knows of it stands while it agrees; otherwise it is served,
    /// without looking again, only as long as a token that old would be,
    /// and at least for this lookup.
    fn not_due(token: String, life: &Lifetimes, known: Option<Entry>, now: f64) -> Entry {
        if let Some(known) = known.filter(|k| now < k.refresh_at) {
            return known;
        }
        let written_at = now - life.refresh_after.ceil().max(1.0) - 1.0;
        let served_until = (written_at + life.serve_for).max(now + THIS_LOOKUP);
        Entry {
            token,
            refresh_at: served_until,
            expires_at: served_until,
            dies_at: (written_at + life.dies_after).max(served_until),
        }
    }

    /// A token whose record is gone (or never was: legacy code cached it):
    /// due. memcached still holding the plain key says it is served (the
    /// key lives a second past the serving time, inside the guard before
    /// WeChat's expiry), for this lookup, or as long as this process
    /// knows it is.
    fn due(token: String, known: Option<&Entry>, now: f64) -> Entry {
        let expires_at = known.map_or(now + THIS_LOOKUP, |k| k.expires_at.max(now + THIS_LOOKUP));
        let dies_at = known.map_or(expires_at, |k| k.dies_at.max(expires_at));
        Entry { token, refresh_at: f64::NEG_INFINITY, expires_at, dies_at }
    }

    /// Reads `KEY:meta` back for the token found under the plain key, which
    /// memcached keeps `kept_for` more seconds. The write was `ttl -
    /// kept_for` seconds ago as memcached counts them, in whole seconds: the
    /// true age is within a second of that. The refresh point takes it as
    /// it is (a refresh a second early or late is harmless); the serving
    /// times take it a second older, so a token is never served late.
    /// `None`: the record is of another token, of another format, or does
    /// not match the key's TTL (written again since).
    pub fn decode(value: &str, token: &str, kept_for: Option<u32>, now: f64) -> Option<Entry> {
        let life = Lifetimes::parse(value, token, &[RECORD, RECORD_KEPT_WITH_TOKEN])?;
        let kept_for = kept_for.filter(|&left| left <= life.ttl)?;
        let written_at = now - f64::from(life.ttl - kept_for);
        Some(Entry {
            token: token.to_string(),
            refresh_at: written_at + life.refresh_after,
            expires_at: written_at - 1.0 + life.serve_for,
            dies_at: written_at - 1.0 + life.dies_after,
        })
    }

    /// Seconds memcached should keep it: a second past the time it is served
    /// until (memcached's clock ticks in whole seconds and may drop a key up
    /// to a second early), not into the next second after WeChat's own expiry.
    pub fn memcached_ttl(&self, now: f64) -> u32 {
        let kept = ((self.expires_at - now).ceil() + 1.0).min((self.dies_at - now).ceil());
        (kept.max(1.0) as u64).min(MAX_RELATIVE_TTL) as u32
    }
}

/// A record's fields: the plain key's TTL and the times after the write.
struct Lifetimes {
    ttl: u32,
    refresh_after: f64,
    serve_for: f64,
    dies_after: f64,
}

impl Lifetimes {
    /// `value` if it is a record of one of `formats` for `token`.
    fn parse(value: &str, token: &str, formats: &[&str]) -> Option<Lifetimes> {
        let mut parts = value.split(' ');
        let format = parts.next()?;
        if !formats.contains(&format) {
            return None;
        }
        let ttl: u32 = parts.next()?.parse().ok()?;
        let mut seconds = || parts.next()?.parse::<f64>().ok().filter(|t| t.is_finite());
        let (refresh_after, serve_for, dies_after) = (seconds()?, seconds()?, seconds()?);
        if parts.next()? != token || parts.next().is_some() {
            return None;
        }
        Some(Lifetimes { ttl, refresh_after, serve_for, dies_after })
    }
}

/// When a token is due for replacement: `expires_in - margin`, never 0
/// (memcached's "forever") or less, never past `expires_in`, never over 30
/// days (memcached's timestamp threshold). When the margin eats the whole
/// lifetime, half the lifetime is used.
pub fn refresh_delay(expires_in: u64, refresh_margin: u64) -> u32 {
    let lifetime = expires_in.clamp(1, MAX_RELATIVE_TTL);
    let delay = if refresh_margin < lifetime { lifetime - refresh_margin } else { (lifetime / 2).max(1) };
    delay as u32
}

/// How long a token is served: its lifetime less a guard (a tenth, at most
/// a minute) for the fetch's own latency, never before its refresh point.
pub fn serve_ttl(lifetime: u64, refresh_after: u64) -> u64 {
    let guard = (lifetime / 10).min(60).max(u64::from(lifetime > 1));
    (lifetime - guard).max(refresh_after).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetched(token: &str, expires_in: u64) -> FetchedToken {
        FetchedToken { token: token.into(), expires_in }
    }

    #[test]
    fn only_token_shaped_strings_count() {
        assert!(is_token("TOKEN_abc-1"));
        assert!(!is_token(""));
        assert!(!is_token("a b"));
        assert!(!is_token(&"x".repeat(MAX_TOKEN_LEN + 1)));
    }

    #[test]
    fn records_are_relative_and_read_back_on_any_clock() {
        let entry = Entry::fresh(fetched("ABC", 7200), 100.0, 300);
        let ttl = entry.memcached_ttl(100.0);
        assert_eq!(ttl, 7141);
        let record = entry.encode(100.0, ttl);
        assert_eq!(record, "v3 7141 6900.000 7140.000 7200.000 ABC");
        assert_eq!(entry.record_ttl(100.0, ttl), 6900, "the record lives until the token is due");
        // Read 40 s later (memcached says so) by a machine whose clock is
        // 15 minutes ahead: the same schedule on its own clock, served until
        // a second early.
        let reader_now = 100.0 + 40.0 + 900.0;
        let read = Entry::decode(&record, "ABC", Some(ttl - 40), reader_now).unwrap();
        assert_eq!(read.refresh_at, reader_now - 40.0 + 6900.0);
        assert_eq!(read.expires_at, reader_now - 41.0 + 7140.0);
        assert_eq!(read.dies_at, reader_now - 41.0 + 7200.0);
    }

    #[test]
    fn records_of_other_tokens_formats_or_writes_are_not_used() {
        let record = Entry::fresh(fetched("ABC", 7200), 0.0, 300).encode(0.0, 7141);
        assert!(Entry::decode(&record, "OTHER", Some(7000), 0.0).is_none());
        assert!(Entry::decode(&record, "ABC", None, 0.0).is_none(), "the key lost its TTL");
        assert!(Entry::decode(&record, "ABC", Some(7142), 0.0).is_none(), "the key was written again");
        for bad in [
            "",
            "v2",
            "v1 1 2 3 4 ABC",
            "v4 7141 1 2 3 ABC",
            "v2 x 1 2 3 ABC",
            "v3 7141 1 2 ABC",
            "v3 7141 1 2 3 ABC X",
            "v3 7141 a 2 3 ABC",
        ] {
            assert!(Entry::decode(bad, "ABC", Some(7000), 0.0).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn older_versions_records_are_read_where_memcached_tells_the_age() {
        let read = Entry::decode("v2 7141 6900.000 7140.000 7200.000 ABC", "ABC", Some(7141), 0.0).unwrap();
        assert_eq!(read.refresh_at, 6900.0);
        let untold =
            Sighting { token: "ABC".into(), record: Some("v2 7141 6900 7140 7200 ABC".into()), age: Age::Untold };
        assert_eq!(Entry::sighted(untold, None, 0.0, 300).refresh_at, f64::NEG_INFINITY, "it says nothing of due");
    }

    fn untold(record: Option<&str>) -> Sighting {
        Sighting { token: "ABC".into(), record: record.map(str::to_string), age: Age::Untold }
    }

    #[test]
    fn without_ages_a_record_says_not_due_and_bounds_how_long_the_token_is_served_unasked() {
        let record = Entry::fresh(fetched("ABC", 7200), 0.0, 300).encode(0.0, 7141);
        // Read by a process that knows nothing, on any clock.
        let read = Entry::sighted(untold(Some(&record)), None, 5000.0, 300);
        // At most 6901 s old: served until 7140 - 6901 = 239 s from now,
        // then looked up again (it may be due by then).
        assert_eq!(read.refresh_at, 5239.0);
        assert_eq!(read.expires_at, 5239.0);
        assert_eq!(read.dies_at, 5299.0);
        // This process's own schedule stands while memcached agrees.
        let own = Entry::fresh(fetched("ABC", 7200), 4000.0, 300);
        assert_eq!(Entry::sighted(untold(Some(&record)), Some(own.clone()), 5000.0, 300), own);
    }

    #[test]
    fn without_ages_a_record_of_a_token_written_already_due_says_due() {
        let late = Entry::sighted(untold(Some("v3 41 -200.000 40.000 100.000 ABC")), None, 5000.0, 300);
        assert_eq!(late.refresh_at, f64::NEG_INFINITY);
        assert!(late.expires_at < 5000.1, "served for this lookup only: {late:?}");
    }

    #[test]
    fn without_ages_no_record_means_due_and_served_for_this_lookup() {
        let due = Entry::sighted(untold(None), None, 5000.0, 300);
        assert!(due.refresh_at < 5000.0 && 5000.0 < due.expires_at && due.expires_at < 5000.1, "{due:?}");
        let legacy_record = Entry::sighted(untold(Some("v3 7141 6900 7140 7200 OTHER")), None, 5000.0, 300);
        assert!(legacy_record.refresh_at < 5000.0, "a record of another token says nothing");
        // Known: served as long as this process knows it is, still due.
        let own = Entry::fresh(fetched("ABC", 7200), 0.0, 300);
        let due = Entry::sighted(untold(None), Some(own.clone()), 6950.0, 300);
        assert_eq!((due.refresh_at, due.expires_at), (f64::NEG_INFINITY, own.expires_at));
    }

    #[test]
    fn with_ages_a_known_token_needs_no_record() {
        let own = Entry::fresh(fetched("ABC", 7200), 0.0, 300);
        let seen = Sighting { token: "ABC".into(), record: None, age: Age::KeptFor(Some(7000)) };
        assert_eq!(Entry::sighted(seen.clone(), Some(own.clone()), 141.0, 300), own);
        let legacy = Entry::sighted(seen, None, 141.0, 300);
        assert_eq!(legacy.expires_at, 141.0 + 7000.0 - 1.0);
    }

    #[test]
    fn refresh_and_serve_times_are_clamped() {
        assert_eq!(refresh_delay(7200, 300), 6900);
        assert_eq!(refresh_delay(300, 300), 150);
        assert_eq!(refresh_delay(200, 300), 100);
        assert_eq!(refresh_delay(1, 300), 1);
        assert_eq!(refresh_delay(0, 300), 1);
        assert_eq!(refresh_delay(7200, 0), 7200);
        assert_eq!(refresh_delay(10_000_000, 300), (MAX_RELATIVE_TTL - 300) as u32);
        for expires in [1, 2, 5, 299, 300, 301, 7200, u64::MAX] {
            for margin in [0, 1, 300, 7200, u64::MAX] {
                let refresh = u64::from(refresh_delay(expires, margin));
                let serve = serve_ttl(expires.clamp(1, MAX_RELATIVE_TTL), refresh);
                assert!(refresh >= 1 && refresh <= expires && refresh <= MAX_RELATIVE_TTL, "{expires} {margin}");
                assert!(serve >= refresh && serve <= expires && serve <= MAX_RELATIVE_TTL, "{expires} {margin}");
            }
        }
        assert_eq!(serve_ttl(7200, 6900), 7140);
        assert_eq!(serve_ttl(300, 150), 270);
    }
}
