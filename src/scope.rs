//! Whose data a request reads or writes: one partner, live or its `_test` tenant.

/// Live data, or a partner's `_test` data: never visible to each other. Named `live` and
/// `test` (`into_str`, and parsed back from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case", const_into_str)]
pub enum Tenant {
    Live,
    Test,
}

/// Whose data a call reads or writes: every query is filtered by both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Scope {
    pub partner_id: i64,
    pub tenant: Tenant,
}
