//! Half-open time intervals `[start, end)` in integer nanoseconds, and sets of them.
//!
//! The ledger's coverage and the planner's "what is left to copy" are both
//! interval arithmetic; keeping it here, pure, lets both be tested with plain values.

use serde::{Deserialize, Serialize};

/// A half-open interval `[start, end)` of nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Interval {
    /// First nanosecond inside the interval.
    pub start: i64,
    /// First nanosecond after the interval.
    pub end: i64,
}

impl Interval {
    /// Builds `[start, end)`; callers guarantee `start <= end`.
    pub fn new(start: i64, end: i64) -> Self {
        debug_assert!(start <= end, "interval start {start} after end {end}");
        Interval { start, end }
    }

    /// True when the interval holds no nanosecond.
    pub fn is_empty(&self) -> bool {
        self.start >= self.end
    }

    /// Length in nanoseconds (saturating, so extreme bounds never overflow).
    pub fn len(&self) -> i64 {
        self.end.saturating_sub(self.start).max(0)
    }

    /// True when the two intervals share at least one nanosecond.
    pub fn overlaps(&self, other: &Interval) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// The common part, or `None` when the intervals do not overlap.
    pub fn intersect(&self, other: &Interval) -> Option<Interval> {
        let i = Interval {
            start: self.start.max(other.start),
            end: self.end.min(other.end),
        };
        (!i.is_empty()).then_some(i)
    }
}

/// A set of disjoint, non-adjacent intervals kept sorted by start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntervalSet {
    parts: Vec<Interval>,
}

impl IntervalSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an interval, merging it with any it overlaps or touches.
    pub fn insert(&mut self, iv: Interval) {
        if iv.is_empty() {
            return;
        }
        // Index of the first part that ends at or after iv.start: everything before
        // it lies strictly left of iv and stays untouched.
        let lo = self.parts.partition_point(|p| p.end < iv.start);
        let mut merged = iv;
        let mut hi = lo;
        while hi < self.parts.len() && self.parts[hi].start <= merged.end {
            merged.start = merged.start.min(self.parts[hi].start);
            merged.end = merged.end.max(self.parts[hi].end);
            hi += 1;
        }
        if hi == lo + 1 {
            // Grew one part (a ledger's chunks mostly extend the last one): no splice.
            self.parts[lo] = merged;
        } else {
            self.parts.splice(lo..hi, std::iter::once(merged));
        }
    }

    /// Takes `iv` out of the set, splitting a part it falls inside.
    pub fn remove(&mut self, iv: Interval) {
        if iv.is_empty() {
            return;
        }
        let mut out = Vec::with_capacity(self.parts.len() + 1);
        for p in &self.parts {
            if !p.overlaps(&iv) {
                out.push(*p);
                continue;
            }
            if p.start < iv.start {
                out.push(Interval::new(p.start, iv.start));
            }
            if iv.end < p.end {
                out.push(Interval::new(iv.end, p.end));
            }
        }
        self.parts = out;
    }

    /// The parts of `window` that this set does not cover, in order.
    pub fn gaps(&self, window: Interval) -> Vec<Interval> {
        let mut out = Vec::new();
        let mut cursor = window.start;
        let first = self.parts.partition_point(|p| p.end <= window.start);
        for p in &self.parts[first..] {
            if p.start >= window.end {
                break;
            }
            if p.start > cursor {
                out.push(Interval::new(cursor, p.start));
            }
            cursor = cursor.max(p.end);
            if cursor >= window.end {
                break;
            }
        }
        if cursor < window.end {
            out.push(Interval::new(cursor, window.end));
        }
        out
    }

    /// True when every nanosecond of `window` is in the set.
    pub fn covers(&self, window: Interval) -> bool {
        window.is_empty() || self.gaps(window).is_empty()
    }

    /// The disjoint parts, sorted.
    pub fn parts(&self) -> &[Interval] {
        &self.parts
    }

    /// True when nothing is covered.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }
}

impl FromIterator<Interval> for IntervalSet {
    fn from_iter<T: IntoIterator<Item = Interval>>(iter: T) -> Self {
        let mut set = IntervalSet::new();
        for iv in iter {
            set.insert(iv);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(a: i64, b: i64) -> Interval {
        Interval::new(a, b)
    }

    /// Overlapping and touching intervals merge into one part; distant ones stay apart.
    #[test]
    fn insert_merges_overlapping_and_adjacent() {
        let set: IntervalSet = [iv(10, 20), iv(30, 40), iv(20, 25), iv(50, 60), iv(35, 52)]
            .into_iter()
            .collect();
        assert_eq!(set.parts(), &[iv(10, 25), iv(30, 60)]);
    }

    /// An interval that swallows several parts replaces all of them.
    #[test]
    fn insert_spanning_many_parts() {
        let mut set: IntervalSet = [iv(1, 2), iv(3, 4), iv(5, 6)].into_iter().collect();
        set.insert(iv(0, 10));
        assert_eq!(set.parts(), &[iv(0, 10)]);
    }

    /// Gaps are exactly the uncovered pieces of the window, clipped to it.
    #[test]
    fn gaps_are_the_uncovered_pieces() {
        let set: IntervalSet = [iv(10, 20), iv(30, 40)].into_iter().collect();
        assert_eq!(set.gaps(iv(0, 50)), vec![iv(0, 10), iv(20, 30), iv(40, 50)]);
        assert_eq!(set.gaps(iv(12, 18)), vec![]);
        assert_eq!(set.gaps(iv(15, 35)), vec![iv(20, 30)]);
        assert_eq!(set.gaps(iv(40, 45)), vec![iv(40, 45)]);
        assert!(set.covers(iv(30, 40)));
        assert!(!set.covers(iv(29, 40)));
    }

    /// Removing cuts the parts it overlaps and leaves the rest; removing what is not
    /// there changes nothing.
    #[test]
    fn remove_cuts_parts() {
        let mut set: IntervalSet = [iv(0, 10), iv(20, 30), iv(40, 50)].into_iter().collect();
        set.remove(iv(5, 25));
        assert_eq!(set.parts(), &[iv(0, 5), iv(25, 30), iv(40, 50)]);
        set.remove(iv(42, 44));
        assert_eq!(set.parts(), &[iv(0, 5), iv(25, 30), iv(40, 42), iv(44, 50)]);
        set.remove(iv(60, 70));
        set.remove(iv(1, 1));
        assert_eq!(set.parts().len(), 4);
        set.remove(iv(-10, 100));
        assert!(set.is_empty());
    }

    /// An empty set leaves the whole window as one gap.
    #[test]
    fn empty_set_gap_is_whole_window() {
        assert_eq!(IntervalSet::new().gaps(iv(-5, 5)), vec![iv(-5, 5)]);
    }

    /// Removing splits a part it falls inside, trims parts it overlaps and drops
    /// parts it covers; what it does not touch stays.
    #[test]
    fn remove_cuts_holes() {
        let mut s: IntervalSet = [iv(0, 10), iv(20, 30), iv(40, 50)].into_iter().collect();
        s.remove(iv(3, 5));
        s.remove(iv(25, 45));
        assert_eq!(s.parts(), &[iv(0, 3), iv(5, 10), iv(20, 25), iv(45, 50)]);
        s.remove(iv(0, 100));
        assert!(s.is_empty());
    }

    /// Intersections and overlaps treat the end as exclusive.
    #[test]
    fn half_open_semantics() {
        assert!(!iv(0, 10).overlaps(&iv(10, 20)));
        assert_eq!(iv(0, 10).intersect(&iv(5, 20)), Some(iv(5, 10)));
        assert_eq!(iv(0, 10).intersect(&iv(10, 20)), None);
        assert_eq!(iv(i64::MIN, i64::MAX).len(), i64::MAX);
    }
}
