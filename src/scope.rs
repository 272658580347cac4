//! Whose data a request reads or writes: one partner, live or its `_test` tenant.

/// Live data, or a partner's `_test` data: never visible to each other. Named `live` and
/// `test` (`into_str`, `Display` for the logs, and parsed back from it).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::Display,
    strum::VariantArray,
)]
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

impl Scope {
    /// The same partner's other tenant (live for test, test for live).
    pub fn other_tenant(self) -> Scope {
        let tenant = match self.tenant {
            Tenant::Live => Tenant::Test,
            Tenant::Test => Tenant::Live,
        };
        Scope { tenant, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::Tenant;

    /// The logs show a tenant as it is stored and parsed.
    #[test]
    fn a_tenant_is_shown_as_it_is_spelled() {
        for tenant in [Tenant::Live, Tenant::Test] {
            assert_eq!(tenant.to_string(), tenant.into_str());
            assert_eq!(tenant.to_string().parse::<Tenant>(), Ok(tenant));
        }
    }
}
