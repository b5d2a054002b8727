//! Section 5: chapter 3's "better than 98 %", one paragraph.

use super::{json_file, Section, SummaryOf};
use crate::book;
use crate::error::Result;
use crate::experiments::better98::{Better98, Better98Row};
use crate::experiments::run::Meta;
use std::fmt::Write as _;

/// The section of [`Better98`].
pub struct Better98Section;

impl Section for Better98Section {
    type Part = Better98;
    const PART: Better98 = Better98;

    fn files(&self, summary: &SummaryOf<Self>) -> Result<Vec<(String, String)>> {
        summary
            .iter()
            .map(|b| json_file("better98.json", b))
            .collect()
    }

    fn markdown(&self, summary: &SummaryOf<Self>, meta: &Meta) -> String {
        let mut md = String::new();
        let Some(Better98Row {
            validation_accuracy_percent: acc,
            train_seconds: secs,
        }) = summary
        else {
            return md;
        };
        let best = acc.iter().cloned().fold(0.0, f64::max);
        let _ = writeln!(md, "## 5. Chapter 3's \"better than 98 %\"\n");
        let _ = writeln!(md, "[784,100,10], large N(0,1) init, cross-entropy, {} epochs, mini-batch {}, eta {}, lambda {}, seed {}: final {:.2} %, best {:.2} % (book: {:.2} %), {:.1} s of training.\n", acc.len(), book::MINI_BATCH, book::ETA, book::LAMBDA, meta.plan.settings.base_seed, acc.last().copied().unwrap_or(0.0), best, book::BETTER_98, secs);
        md
    }
}
