//! What the gateway keeps beyond the guide's four records (those are `records`): the batch
//! history, a registration's v3 face and v3's motor-club registrations. Below the store and the
//! APIs alike: the store reads and writes these, the API surfaces answer them; nothing here knows
//! HTTP or SQL.

pub mod audit;
pub mod batch;
pub mod motor_club;
pub mod refused;
pub mod v3_registration;
