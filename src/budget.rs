//! A memory budget for page images in flight. Each page reserves an estimate of what it will
//! cost (its pixels times [`BYTES_PER_PIXEL`]) before it is decoded or rendered, and gives it
//! back when its worker is done with it; the renderer waits while the budget is spent. So the
//! peak is bounded by the budget, whatever the pages' sizes and `--jobs`, not by luck: two huge
//! pages are worked one after the other, while ordinary pages still go in parallel.

use std::sync::{Arc, Condvar, Mutex};

/// What one pixel of a page costs at the peak of its life, measured: a 60-megapixel PDF page
/// raised `sohoa scan`'s peak by 515 MB (BGRx bitmap 4 bytes, grey 1, ink map 1, clean-up's and
/// Tesseract's copies ~2.5), so 10 leaves a margin.
pub const BYTES_PER_PIXEL: u64 = 10;

/// `--memory-budget`'s default: with the restoration model, two Tesseract engines and PDFium
/// (~200 MB) the process stays under 1 GiB.
pub const DEFAULT_BUDGET: u64 = 768 << 20;

pub struct MemoryBudget {
    total: u64,
    used: Mutex<u64>,
    freed: Condvar,
}

impl std::fmt::Debug for MemoryBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MemoryBudget({} MiB)", self.total >> 20)
    }
}

impl MemoryBudget {
    pub fn new(total: u64) -> Arc<MemoryBudget> {
        Arc::new(MemoryBudget {
            total: total.max(1),
            used: Mutex::new(0),
            freed: Condvar::new(),
        })
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// The most pixels one page may have for its estimate to fit the budget.
    pub fn max_pixels(&self) -> u64 {
        self.total / BYTES_PER_PIXEL
    }

    /// Reserve `bytes` (at most the whole budget), waiting until they are free. A page alone
    /// always gets through, so a page larger than the budget cannot wait for ever.
    pub fn reserve(self: &Arc<Self>, bytes: u64) -> Permit {
        let bytes = bytes.min(self.total);
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        while *used > 0 && *used + bytes > self.total {
            used = self.freed.wait(used).unwrap_or_else(|e| e.into_inner());
        }
        *used += bytes;
        Permit {
            budget: self.clone(),
            bytes,
        }
    }

    /// Bytes reserved now.
    pub fn used(&self) -> u64 {
        *self.used.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A page's reservation, given back when dropped.
pub struct Permit {
    budget: Arc<MemoryBudget>,
    bytes: u64,
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Permit({} MiB)", self.bytes >> 20)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut used = self.budget.used.lock().unwrap_or_else(|e| e.into_inner());
        *used -= self.bytes;
        self.budget.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_reservation_waits_until_enough_is_given_back() {
        let b = MemoryBudget::new(100);
        let first = b.reserve(70);
        let b2 = b.clone();
        let waiter = std::thread::spawn(move || {
            let _p = b2.reserve(50);
            b2.used()
        });
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(b.used(), 70, "the second page waits");
        drop(first);
        assert_eq!(waiter.join().unwrap(), 50);
        assert_eq!(b.used(), 0);
    }

    #[test]
    fn a_page_larger_than_the_budget_goes_alone() {
        let b = MemoryBudget::new(100);
        let p = b.reserve(1000);
        assert_eq!(b.used(), 100);
        drop(p);
        assert_eq!(b.used(), 0);
    }
}
