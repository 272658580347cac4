//! v3 ids: the 24 hex digits of v3's `_id`, given to every registration (and motor-club
//! registration) as it is first stored, whichever API wrote it.
//!
//! The layout is MongoDB's ObjectId: 4 bytes of Unix seconds, 5 random bytes drawn once per
//! process, and a 3-byte counter that starts at random. One process's ids rise, so a batch's
//! new registrations go in at the right edge of the unique v3 id index; random ids landed all
//! over it and made a SQLite batch's upserts half as dear again. The process's random bytes
//! keep apart the ids of gateway instances sharing one database (and an id made in the same
//! second by another process is as unlikely as a 40-bit collision).

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU32, Ordering};

use rand_core::{OsRng, RngCore};

/// What this process puts in every id: its 5 random bytes, and the counter's start.
struct Process {
    random: [u8; 5],
    counter: AtomicU32,
}

static PROCESS: LazyLock<Process> = LazyLock::new(|| {
    let mut random = [0u8; 5];
    OsRng.fill_bytes(&mut random);
    Process {
        random,
        counter: AtomicU32::new(OsRng.next_u32()),
    }
});

/// A new v3 id, kept on the stack (a batch makes one per registration).
#[derive(Clone, Copy)]
pub struct V3Id([u8; 24]);

impl V3Id {
    /// The next id of this process at this time.
    pub fn new() -> V3Id {
        let seconds = chrono::Utc::now().timestamp() as u32;
        Self::at(seconds, PROCESS.random, PROCESS.counter.fetch_add(1, Ordering::Relaxed))
    }

    fn at(seconds: u32, random: [u8; 5], counter: u32) -> V3Id {
        let mut bytes = [0u8; 12];
        bytes[..4].copy_from_slice(&seconds.to_be_bytes());
        bytes[4..9].copy_from_slice(&random);
        bytes[9..].copy_from_slice(&counter.to_be_bytes()[1..]);
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut hex = [0u8; 24];
        for (i, b) in bytes.iter().enumerate() {
            hex[2 * i] = HEX[usize::from(b >> 4)];
            hex[2 * i + 1] = HEX[usize::from(b & 0xf)];
        }
        V3Id(hex)
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex digits are ASCII")
    }
}

impl Default for V3Id {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for V3Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lays_out_seconds_process_bytes_and_counter_as_24_lowercase_hex_digits() {
        let id = V3Id::at(0x6560_0a1b, [0xde, 0xad, 0xbe, 0xef, 0x01], 0xff12_3456);
        // The counter keeps its low 3 bytes.
        assert_eq!(id.as_str(), "65600a1bdeadbeef01123456");
    }

    #[test]
    fn one_process_ids_are_distinct_and_rise_within_a_second() {
        let ids: Vec<String> = (0..10_000).map(|_| V3Id::new().to_string()).collect();
        assert!(
            ids.iter()
                .all(|id| id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        );
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len(), "ids repeat");
        // Rising, but for the counter's wrap from ffffff to 000000 (at most once here) and a
        // new second.
        let falls = ids.windows(2).filter(|w| w[0] >= w[1]).count();
        assert!(falls <= 1, "{falls} falls");
    }
}
