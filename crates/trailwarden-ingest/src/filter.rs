//! Account, region and time filters.
//!
//! `--from`/`--to` take a date (`2024-03-01`) or an RFC 3339 time. `--from` is inclusive;
//! `--to` given as a date includes that whole day (UTC), given as a time it is exclusive.
//! Objects are skipped whole only when their layout proves none of their events can match:
//! by account and region, and by time — an object's events precede the time in its file
//! name, and may be delivered up to [`LATE_DELIVERY_MARGIN`] after they happened.

use trailwarden_parse::{Event, MicrosUtc};

use crate::layout::Layout;

const DAY: i64 = 86_400_000_000;

/// How long after an event CloudTrail may still deliver it (the usual delay is minutes; a day
/// keeps late deliveries without reading whole months).
pub const LATE_DELIVERY_MARGIN: i64 = DAY;

#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("{flag} {value:?} is neither a date (YYYY-MM-DD) nor an RFC 3339 time")]
    BadTime { flag: &'static str, value: String },
    #[error("--from {from} is after --to {to}")]
    Empty { from: String, to: String },
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    /// Inclusive lower bound on event time.
    pub from: Option<MicrosUtc>,
    /// Exclusive upper bound on event time.
    pub to: Option<MicrosUtc>,
}

impl Filter {
    pub fn new(
        accounts: Vec<String>,
        regions: Vec<String>,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Filter, FilterError> {
        let from_t = from.map(|v| parse_bound("--from", v, false)).transpose()?;
        let to_t = to.map(|v| parse_bound("--to", v, true)).transpose()?;
        if let (Some(f), Some(t)) = (from_t, to_t) {
            if f >= t {
                return Err(FilterError::Empty {
                    from: from.unwrap_or_default().to_string(),
                    to: to.unwrap_or_default().to_string(),
                });
            }
        }
        Ok(Filter {
            accounts,
            regions,
            from: from_t,
            to: to_t,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
            && self.regions.is_empty()
            && self.from.is_none()
            && self.to.is_none()
    }

    /// True when the layout proves the object holds no event this filter keeps.
    pub fn skips_object(&self, l: &Layout) -> bool {
        if !self.accounts.is_empty() && !self.accounts.contains(&l.account) {
            return true;
        }
        if !self.regions.is_empty() && !self.regions.contains(&l.region) {
            return true;
        }
        // the file's newest event is no later than its delivery time
        let newest = l.file_time.unwrap_or((l.day + 1) * DAY);
        if let Some(from) = self.from {
            if newest < from {
                return true;
            }
        }
        if let Some(to) = self.to {
            // its oldest event may precede the delivery date by the margin
            let oldest_possible = l.day * DAY - LATE_DELIVERY_MARGIN;
            if oldest_possible >= to {
                return true;
            }
        }
        false
    }

    /// True when the event passes every filter.
    pub fn keeps(&self, e: &Event) -> bool {
        if let Some(from) = self.from {
            if e.event_time < from {
                return false;
            }
        }
        if let Some(to) = self.to {
            if e.event_time >= to {
                return false;
            }
        }
        if !self.accounts.is_empty() {
            match e.account() {
                Some(a) if self.accounts.iter().any(|x| x == a) => {}
                _ => return false,
            }
        }
        if !self.regions.is_empty() {
            match e.aws_region.as_deref() {
                Some(r) if self.regions.iter().any(|x| x == r) => {}
                _ => return false,
            }
        }
        true
    }
}

fn parse_bound(flag: &'static str, v: &str, end: bool) -> Result<MicrosUtc, FilterError> {
    let bad = || FilterError::BadTime {
        flag,
        value: v.to_string(),
    };
    if v.len() == 10 {
        let day = trailwarden_parse::parse_event_time(&format!("{v}T00:00:00Z")).ok_or_else(bad)?;
        return Ok(if end { day + DAY } else { day });
    }
    trailwarden_parse::parse_event_time(v).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout;

    fn t(s: &str) -> MicrosUtc {
        trailwarden_parse::parse_event_time(s).unwrap()
    }

    #[test]
    fn date_bounds() {
        let f = Filter::new(vec![], vec![], Some("2024-03-01"), Some("2024-03-08")).unwrap();
        assert_eq!(f.from, Some(t("2024-03-01T00:00:00Z")));
        assert_eq!(f.to, Some(t("2024-03-09T00:00:00Z")));
        assert!(Filter::new(vec![], vec![], Some("2024-03-09"), Some("2024-03-08")).is_err());
        assert!(Filter::new(vec![], vec![], Some("yesterday"), None).is_err());
    }

    #[test]
    fn skips_objects_by_layout() {
        let f = Filter::new(
            vec!["111122223333".into()],
            vec!["us-east-1".into()],
            Some("2024-03-01"),
            Some("2024-03-08"),
        )
        .unwrap();
        let key = |acct: &str, region: &str, d: &str, ts: &str| {
            layout::parse(&format!(
                "AWSLogs/{acct}/CloudTrail/{region}/{d}/{acct}_CloudTrail_{region}_{ts}_x.json.gz"
            ))
            .unwrap()
        };
        assert!(!f.skips_object(&key(
            "111122223333",
            "us-east-1",
            "2024/03/01",
            "20240301T0005Z"
        )));
        assert!(f.skips_object(&key(
            "444455556666",
            "us-east-1",
            "2024/03/01",
            "20240301T0005Z"
        )));
        assert!(f.skips_object(&key(
            "111122223333",
            "eu-west-1",
            "2024/03/01",
            "20240301T0005Z"
        )));
        assert!(f.skips_object(&key(
            "111122223333",
            "us-east-1",
            "2024/02/29",
            "20240229T2355Z"
        )));
        // delivered on the 9th, may hold events of the 8th
        assert!(!f.skips_object(&key(
            "111122223333",
            "us-east-1",
            "2024/03/09",
            "20240309T0005Z"
        )));
        assert!(f.skips_object(&key(
            "111122223333",
            "us-east-1",
            "2024/03/11",
            "20240311T0005Z"
        )));
    }

    #[test]
    fn keeps_events() {
        let f = Filter::new(vec![], vec!["us-east-1".into()], Some("2024-03-01"), None).unwrap();
        let mut e = Event {
            event_time: t("2024-03-01T00:00:00Z"),
            aws_region: Some("us-east-1".into()),
            ..Event::default()
        };
        assert!(f.keeps(&e));
        e.event_time -= 1;
        assert!(!f.keeps(&e));
    }
}
