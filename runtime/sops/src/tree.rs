//! The document tree as sops sees it: ordered mappings whose entries may be
//! comments, lists, and typed scalars. Order matters: the MAC is computed over
//! the values in document order.

/// A value in a sops tree.
#[derive(Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// Only from `type:bytes` values (sops' binary store).
    Bytes(Vec<u8>),
    /// A comment inside a list.
    Comment(String),
    Map(Branch),
    List(Vec<Value>),
}

// Values may hold plaintext: never print them, not even in debug output.
impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Map(b) => f.debug_list().entries(b.0.iter().map(|(k, _)| k)).finish(),
            Value::List(l) => write!(f, "[{} items]", l.len()),
            _ => f.write_str("<value>"),
        }
    }
}

/// A mapping key: a string, or a comment line standing between entries
/// (its value is [`Value::Null`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    Str(String),
    Comment(String),
}

/// An ordered mapping; one per YAML document (a "branch" in sops).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Branch(pub Vec<(Key, Value)>);

impl Branch {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find_map(|(k, v)| match k {
            Key::Str(s) if s == key => Some(v),
            _ => None,
        })
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.0.iter_mut().find_map(|(k, v)| match k {
            Key::Str(s) if s == key => Some(v),
            _ => None,
        })
    }

    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let at = self
            .0
            .iter()
            .position(|(k, _)| matches!(k, Key::Str(s) if s == key))?;
        Some(self.0.remove(at).1)
    }

    pub fn insert(&mut self, key: &str, value: Value) {
        match self.get_mut(key) {
            Some(v) => *v = value,
            None => self.0.push((Key::Str(key.to_string()), value)),
        }
    }
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&Branch> {
        match self {
            Value::Map(b) => Some(b),
            _ => None,
        }
    }

    /// What kind of value this is, for error messages (never the value).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Bytes(_) => "bytes",
            Value::Comment(_) => "a comment",
            Value::Map(_) => "a mapping",
            Value::List(_) => "a list",
        }
    }

    /// Converts from JSON; numbers become floats as in sops' JSON store
    /// (Go's decoder yields `float64` for every number).
    pub fn from_json(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Value::Str(s.clone()),
            serde_json::Value::Array(a) => Value::List(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(o) => Value::Map(Branch(
                o.iter()
                    .map(|(k, v)| (Key::Str(k.clone()), Value::from_json(v)))
                    .collect(),
            )),
        }
    }

    /// Converts to JSON, dropping comments (JSON has none).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null | Value::Comment(_) => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => {
                if f.fract() == 0.0 && f.abs() < 9.0e15 {
                    J::from(*f as i64)
                } else {
                    serde_json::Number::from_f64(*f).map_or(J::Null, J::Number)
                }
            }
            Value::Str(s) => J::String(s.clone()),
            Value::Bytes(b) => J::String(String::from_utf8_lossy(b).into_owned()),
            Value::List(l) => J::Array(
                l.iter()
                    .filter(|v| !matches!(v, Value::Comment(_)))
                    .map(Value::to_json)
                    .collect(),
            ),
            Value::Map(b) => J::Object(
                b.0.iter()
                    .filter_map(|(k, v)| match k {
                        Key::Str(k) => Some((k.clone(), v.to_json())),
                        Key::Comment(_) => None,
                    })
                    .collect(),
            ),
        }
    }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: the shortest decimal that
/// reads back as `f`, never in exponent form. Rust's `Display` for `f64`
/// is exactly that.
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{f}")
    }
}
