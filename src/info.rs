//! `php --ri weixin` / `phpinfo()`: version and every setting, the secret
//! and the proxy's password masked.

use std::panic::{catch_unwind, AssertUnwindSafe};

use ext_php_rs::zend::ModuleEntry;
use ext_php_rs::{info_table_end, info_table_header, info_table_row, info_table_start};

use crate::ini;
use std::sync::atomic::Ordering;
use weixin_core::config::{shown_proxy, INI_ENTRIES};
use weixin_core::quota::Endpoint;
use weixin_core::secret::Secret;
use weixin_core::{service, stats};

/// The day's count of requests to `endpoint` for `weixin.appid`, as
/// memcached holds it for every server, or why it is unknown.
fn requests_today(endpoint: Endpoint) -> String {
    match ini::current_settings().and_then(|settings| Ok((service::requests_today(&settings, endpoint)?, settings))) {
        Ok(((day, count), settings)) => format!(
            "{count} (AppID {}, {}-{:02}-{:02} Beijing time{})",
            settings.appid,
            day / 10_000,
            day / 100 % 100,
            day % 100,
            endpoint.limits().map_or_else(String::new, |limits| format!("; {limits}"))
        ),
        Err(error) => format!("unknown: {error}"),
    }
}

pub extern "C" fn module_info(_module: *mut ModuleEntry) {
    // A panic must not unwind into the engine.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        info_table_start!();
        info_table_row!("weixin support", "enabled");
        info_table_row!("version", env!("CARGO_PKG_VERSION"));
        info_table_end!();

        info_table_start!();
        info_table_header!("This process", "Count");
        for (name, counter) in [
            ("local cache hits", &stats::LOCAL_HITS),
            ("memcached hits", &stats::MEMCACHED_HITS),
            ("upstream calls", &stats::UPSTREAM_CALLS),
            ("upstream errors", &stats::UPSTREAM_ERRORS),
            ("lock waits", &stats::LOCK_WAITS),
            ("http_request() retries after a refused token", &stats::TOKEN_RETRIES),
            ("settings read", &stats::SETTINGS_READS),
        ] {
            info_table_row!(name, counter.load(Ordering::Relaxed).to_string());
        }
        let (accounts, slots) = service::held();
        info_table_row!("accounts held", accounts.to_string());
        info_table_row!("cache keys held", slots.to_string());
        info_table_end!();

        info_table_start!();
        info_table_header!("WeChat daily quota", "Value");
        for endpoint in Endpoint::ALL {
            info_table_row!(format!("{} today (all servers)", endpoint.requests()), requests_today(endpoint));
        }
        info_table_end!();

        info_table_start!();
        info_table_header!("Directive", "Local Value", "Master Value");
        for (name, _, _) in INI_ENTRIES {
            let shown = |original| {
                let value = ini::value(name, original).unwrap_or_default();
                if value.is_empty() {
                    "no value".to_string()
                } else if *name == "weixin.appsecret" {
                    Secret::MASK.to_string()
                } else if *name == "weixin.proxy" {
                    shown_proxy(&value)
                } else {
                    value
                }
            };
            info_table_row!(*name, shown(false), shown(true));
        }
        info_table_end!();
    }));
}
