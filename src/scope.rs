//! Whose data a request reads or writes: one partner, live or its `_test` tenant.

/// Live data, or a partner's `_test` data: never visible to each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tenant {
    Live,
    Test,
}

impl Tenant {
    pub fn as_str(self) -> &'static str {
        match self {
            Tenant::Live => "live",
            Tenant::Test => "test",
        }
    }

    /// The tenant [`Tenant::as_str`] names.
    pub fn named(name: &str) -> Option<Tenant> {
        [Tenant::Live, Tenant::Test].into_iter().find(|t| t.as_str() == name)
    }
}

/// Whose data a call reads or writes: every query is filtered by both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Scope {
    pub partner_id: i64,
    pub tenant: Tenant,
}
