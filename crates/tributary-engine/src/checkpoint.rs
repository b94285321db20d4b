use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where a run resumes, stored on the run with every committed page. Streams are listed
/// several at a time, so each has its own position: every stream below `stream` is done,
/// `cursor` is the position of stream `stream` (`None`: its first page), and `ahead` holds the
/// streams past it that already moved. Streams are named by their index in the connector's
/// order. A checkpoint written before streams ran concurrently (`stream` and `cursor` only)
/// reads the same.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub stream: usize,
    pub cursor: Option<Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ahead: BTreeMap<usize, Position>,
    /// Names of streams that failed so far in this run (the run cannot sweep deletions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_streams: Vec<String>,
}

/// How far a stream past the checkpoint's first open one has come.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    /// The cursor of its next page.
    At(Value),
    Done,
}

impl Checkpoint {
    pub fn from_value(v: Option<&Value>) -> Checkpoint {
        v.and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("checkpoint serialises")
    }

    /// Where stream `index` starts: `None` if it is done, else its cursor (`Some(None)`: from
    /// its first page).
    pub fn start_of(&self, index: usize) -> Option<Option<Value>> {
        if index < self.stream {
            return None;
        }
        if index == self.stream {
            return Some(self.cursor.clone());
        }
        match self.ahead.get(&index) {
            Some(Position::Done) => None,
            Some(Position::At(cursor)) => Some(Some(cursor.clone())),
            None => Some(None),
        }
    }

    /// Stream `index` committed a page whose next cursor is `next` (`None`: it is done).
    pub fn advance(&mut self, index: usize, next: Option<Value>) {
        if index < self.stream {
            return;
        }
        if index == self.stream {
            match next {
                Some(cursor) => self.cursor = Some(cursor),
                None => {
                    self.stream += 1;
                    self.cursor = None;
                    self.settle();
                }
            }
            return;
        }
        let position = match next {
            Some(cursor) => Position::At(cursor),
            None => Position::Done,
        };
        self.ahead.insert(index, position);
    }

    /// Starts the listing over from the first stream (the scope changed under a complete run).
    pub fn restart(&mut self) {
        self.stream = 0;
        self.cursor = None;
        self.ahead.clear();
    }

    /// Moves `stream` past every stream that is done, taking up the next open one's cursor.
    fn settle(&mut self) {
        while let Some(position) = self.ahead.remove(&self.stream) {
            match position {
                Position::Done => self.stream += 1,
                Position::At(cursor) => {
                    self.cursor = Some(cursor);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_older_checkpoint_reads_the_same() {
        let old = json!({"stream": 2, "cursor": {"offset": 300}, "failed_streams": ["absences"]});
        let c = Checkpoint::from_value(Some(&old));
        assert_eq!(c.start_of(1), None);
        assert_eq!(c.start_of(2), Some(Some(json!({"offset": 300}))));
        assert_eq!(c.start_of(3), Some(None));
        assert_eq!(c.to_value(), old, "written back unchanged");
    }

    #[test]
    fn streams_finish_in_any_order() {
        let mut c = Checkpoint::default();
        c.advance(1, Some(json!("b2")));
        c.advance(2, None);
        c.advance(0, Some(json!("a2")));
        assert_eq!((c.start_of(0), c.start_of(1), c.start_of(2)), (Some(Some(json!("a2"))), Some(Some(json!("b2"))), None));
        let stored = Checkpoint::from_value(Some(&c.to_value()));
        assert_eq!(stored, c, "round-trips through the stored JSON");

        c.advance(0, None);
        // Stream 1 is now the first open one; 2 was done already.
        assert_eq!((c.stream, c.cursor.clone()), (1, Some(json!("b2"))));
        c.advance(1, None);
        assert_eq!((c.stream, c.cursor.clone(), c.ahead.len()), (3, None, 0));
        assert_eq!(c.start_of(2), None);

        c.restart();
        assert_eq!(c.start_of(2), Some(None));
    }
}
