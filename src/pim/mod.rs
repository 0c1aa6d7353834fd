//! Calendar logic that does not depend on how items are stored or encoded: time zones
//! (EAS TIME_ZONE_INFORMATION ↔ IANA) and recurrence patterns with their bounded
//! expansion. Pure functions over typed values, no I/O; the tz database is the one
//! bundled into the binary by jiff (`tzdb-bundle-always`), so the results do not depend
//! on the appliance having /usr/share/zoneinfo.

pub mod freebusy;
pub mod goid;
pub mod ical;
pub mod itip;
pub mod recur;
pub mod schedule;
pub mod tz;
pub mod vcard;
