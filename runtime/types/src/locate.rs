//! Finds the line of a field inside a YAML document, so a finding about
//! `spec.template.spec.containers[0].image` points at that line rather than
//! at the top of the object.

use serde_saphyr::granit_parser::{Event, Marker, Parser};

enum Node {
    Leaf(Marker),
    Seq(Marker, Vec<Node>),
    /// Entries keep the marker of their key.
    Map(Marker, Vec<(String, Marker, Node)>),
}

impl Node {
    fn marker(&self) -> Marker {
        match self {
            Node::Leaf(m) | Node::Seq(m, _) | Node::Map(m, _) => *m,
        }
    }
}

/// Where `field_path` is in the document of `text` that starts on
/// `doc_line`: `(line, column)`, both 1-based. Best effort: the deepest part
/// of the path that exists; `None` if the document is not found or the text
/// does not parse.
pub fn field_position(text: &str, doc_line: u32, field_path: &str) -> Option<(u32, u32)> {
    let mut events = Parser::new_from_str(text)
        .filter_map(Result::ok)
        .map(|(e, s)| (e, s.start));
    let root = loop {
        let (event, _) = events.next()?;
        if let Event::DocumentStart(..) = event {
            let node = node(&mut events)?;
            if node.marker().line() as u32 == doc_line {
                break node;
            }
        }
    };
    let mut current = &root;
    let mut at = root.marker();
    let segments = segments(field_path);
    let mut i = 0;
    while i < segments.len() {
        match (current, &segments[i]) {
            (Node::Seq(_, items), Segment::Index(n)) => {
                let Some(item) = items.get(*n) else { break };
                current = item;
                at = item.marker();
                i += 1;
            }
            (Node::Map(_, entries), Segment::Key(_)) => {
                // Keys may contain dots (`app.kubernetes.io/name`): take the
                // longest run of segments that names a key.
                let found = (i + 1..=segments.len()).rev().find_map(|end| {
                    let key = join_keys(&segments[i..end])?;
                    entries.iter().find(|(k, _, _)| *k == key).map(|e| (end, e))
                });
                let Some((end, (_, key_at, value))) = found else {
                    break;
                };
                current = value;
                at = *key_at;
                i = end;
            }
            _ => break,
        }
    }
    Some((at.line() as u32, at.col() as u32 + 1))
}

type Events<'e, 'a> = &'e mut dyn Iterator<Item = (Event<'a>, Marker)>;

/// Reads one node (and its children) from the event stream.
fn node(events: Events<'_, '_>) -> Option<Node> {
    let (event, at) = events.next()?;
    node_from(event, at, events)
}

fn node_from<'a>(event: Event<'a>, at: Marker, events: Events<'_, 'a>) -> Option<Node> {
    Some(match event {
        Event::SequenceStart(..) => {
            let mut items = Vec::new();
            loop {
                let (event, item_at) = events.next()?;
                if let Event::SequenceEnd = event {
                    break Node::Seq(at, items);
                }
                items.push(node_from(event, item_at, events)?);
            }
        }
        Event::MappingStart(..) => {
            let mut entries = Vec::new();
            loop {
                let (key_event, key_at) = events.next()?;
                let key = match key_event {
                    Event::MappingEnd => break Node::Map(at, entries),
                    Event::Scalar(k, ..) => k.into_owned(),
                    // Complex keys do not occur in Kubernetes objects.
                    other => {
                        node_from(other, key_at, events)?;
                        String::new()
                    }
                };
                let value = node(events)?;
                entries.push((key, key_at, value));
            }
        }
        _ => Node::Leaf(at),
    })
}

enum Segment {
    Key(String),
    Index(usize),
}

/// `a.b[0].c` → `a`, `b`, `[0]`, `c`.
fn segments(path: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        if !key.is_empty() {
            out.push(Segment::Key(key.to_owned()));
        }
        while let Some((n, after)) = rest.split_once(']') {
            if let Ok(n) = n.parse() {
                out.push(Segment::Index(n));
            }
            rest = after.strip_prefix('[').unwrap_or(after);
        }
    }
    out
}

fn join_keys(segments: &[Segment]) -> Option<String> {
    let keys: Option<Vec<&str>> = segments
        .iter()
        .map(|s| match s {
            Segment::Key(k) => Some(k.as_str()),
            Segment::Index(_) => None,
        })
        .collect();
    keys.map(|k| k.join("."))
}

#[cfg(test)]
mod tests {
    use super::field_position;

    const TEXT: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: a
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app.kubernetes.io/name: web
spec:
  template:
    spec:
      containers:
        - name: a
          image: nginx
        - name: b
          image: redis:latest
";

    #[test]
    fn finds_fields_in_the_right_document() {
        assert_eq!(
            field_position(TEXT, 6, "spec.template.spec.containers[1].image"),
            Some((19, 11))
        );
        assert_eq!(
            field_position(TEXT, 6, "metadata.labels.app.kubernetes.io/name"),
            Some((11, 5))
        );
        assert_eq!(field_position(TEXT, 1, "metadata.name"), Some((4, 3)));
    }

    #[test]
    fn missing_parts_give_the_deepest_existing_field() {
        assert_eq!(
            field_position(TEXT, 6, "spec.template.spec.containers[0].resources.limits"),
            Some((16, 11))
        );
        assert_eq!(field_position(TEXT, 99, "metadata"), None);
    }
}
