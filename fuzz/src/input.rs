//! Reading structured values out of fuzz bytes, and mutating seeds.

/// A cursor over the fuzz input: every read succeeds, zeros past the end.
pub struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Input<'a> {
        Input { data, pos: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    pub fn i64(&mut self) -> i64 {
        i64::from(self.u32()) << 8 | i64::from(self.u8())
    }

    /// Up to `max` bytes, the count read first.
    pub fn bytes(&mut self, max: usize) -> &'a [u8] {
        let n = (self.u8() as usize).min(max);
        let start = self.pos.min(self.data.len());
        let end = (start + n).min(self.data.len());
        self.pos = start + n;
        &self.data[start..end]
    }

    /// The rest of the input.
    pub fn rest(&mut self) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        self.pos = self.data.len();
        &self.data[start..]
    }

    /// One of `choices`.
    pub fn pick<'c, T>(&mut self, choices: &'c [T]) -> &'c T {
        &choices[self.u8() as usize % choices.len()]
    }

    /// A short string: one of `words`, or bytes read as UTF-8 (lossy).
    pub fn string(&mut self, words: &[&str]) -> String {
        if self.u8().is_multiple_of(4) {
            String::from_utf8_lossy(self.bytes(24)).into_owned()
        } else {
            self.pick(words).to_string()
        }
    }
}

/// A small deterministic generator (xorshift64*), so a bounded run can be
/// repeated from its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// A mutation of `seed`: bit flips, byte changes, cuts, inserts, copies of
/// its own slices, interesting integers; now and then bytes from scratch.
pub fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    if seed.is_empty() || rng.below(16) == 0 {
        let n = rng.below(256);
        return (0..n).map(|_| rng.next_u64() as u8).collect();
    }
    let mut out = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let len = out.len().max(1);
        match rng.below(7) {
            0 if !out.is_empty() => {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            1 if !out.is_empty() => {
                let i = rng.below(len);
                out[i] = rng.next_u64() as u8;
            }
            2 => out.truncate(rng.below(len)),
            3 => {
                let i = rng.below(len + 1).min(out.len());
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                out.splice(i..i, bytes);
            }
            4 if out.len() > 2 => {
                let a = rng.below(out.len());
                let b = (a + rng.below(32)).min(out.len());
                let piece = out[a..b].to_vec();
                let at = rng.below(out.len());
                out.splice(at..at, piece);
            }
            5 if !out.is_empty() => {
                let i = rng.below(len);
                let v = *[0x00u8, 0xff, 0x7f, 0x80, 0x1b, 0x3b, 0x5b, 0x9f, 0xbf]
                    .get(rng.below(9))
                    .unwrap_or(&0);
                out[i] = v;
            }
            _ => {
                if !out.is_empty() {
                    let i = rng.below(len);
                    out.remove(i.min(out.len() - 1));
                }
            }
        }
    }
    out
}
