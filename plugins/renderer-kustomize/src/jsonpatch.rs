//! JSON patch (RFC 6902) for `patches` and `patchesJson6902`.

use serde_json::Value;

/// Applies `ops` to `doc`; the error names the operation and its path.
pub fn apply(doc: &mut Value, ops: &[Value]) -> Result<(), String> {
    for (i, op) in ops.iter().enumerate() {
        apply_one(doc, op).map_err(|e| format!("operation {i} {e}"))?;
    }
    Ok(())
}

fn field<'a>(op: &'a Value, name: &str) -> Result<&'a str, String> {
    op.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("has no '{name}'"))
}

fn apply_one(doc: &mut Value, op: &Value) -> Result<(), String> {
    let kind = field(op, "op")?;
    let path = field(op, "path")?;
    let shown = format!("({kind} {path})");
    let value = || {
        op.get("value")
            .cloned()
            .ok_or_else(|| format!("{shown} has no 'value'"))
    };
    let res = match kind {
        "add" => add(doc, path, value()?),
        "remove" => remove(doc, path).map(|_| ()),
        "replace" => {
            let v = value()?;
            let slot = get_mut(doc, path)?;
            *slot = v;
            Ok(())
        }
        "move" => {
            let from = field(op, "from")?;
            let v = remove(doc, from)?;
            add(doc, path, v)
        }
        "copy" => {
            let from = field(op, "from")?;
            let v = get_mut(doc, from)?.clone();
            add(doc, path, v)
        }
        "test" => {
            let v = value()?;
            if *get_mut(doc, path)? == v {
                Ok(())
            } else {
                Err(format!("test failed: the value at '{path}' is not {v}"))
            }
        }
        other => Err(format!("unknown op '{other}'")),
    };
    res.map_err(|e| format!("{shown}: {e}"))
}

fn tokens(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!("path '{path}' must start with '/'"));
    };
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn index(list: &[Value], tok: &str, path: &str, allow_end: bool) -> Result<usize, String> {
    if allow_end && tok == "-" {
        return Ok(list.len());
    }
    let i: usize = tok
        .parse()
        .map_err(|_| format!("'{tok}' in '{path}' is not a list index"))?;
    let max = if allow_end {
        list.len()
    } else {
        list.len().saturating_sub(1)
    };
    if i > max || (!allow_end && list.is_empty()) {
        return Err(format!("index {i} in '{path}' is out of range"));
    }
    Ok(i)
}

fn get_mut<'a>(doc: &'a mut Value, path: &str) -> Result<&'a mut Value, String> {
    let mut cur = doc;
    for tok in tokens(path)? {
        cur = match cur {
            Value::Object(m) => m
                .get_mut(&tok)
                .ok_or_else(|| format!("path '{path}' does not exist: no field '{tok}'"))?,
            Value::Array(l) => {
                let i = index(l, &tok, path, false)?;
                &mut l[i]
            }
            _ => return Err(format!("path '{path}' does not exist")),
        };
    }
    Ok(cur)
}

fn parent<'a>(doc: &'a mut Value, path: &str) -> Result<(&'a mut Value, String), String> {
    let toks = tokens(path)?;
    let Some((last, _)) = toks.split_last() else {
        return Err("the document root cannot be the target".into());
    };
    let cut = path.rfind('/').unwrap_or(0);
    Ok((get_mut(doc, &path[..cut])?, last.clone()))
}

fn add(doc: &mut Value, path: &str, v: Value) -> Result<(), String> {
    if path.is_empty() {
        *doc = v;
        return Ok(());
    }
    let (p, last) = parent(doc, path)?;
    match p {
        Value::Object(m) => {
            m.insert(last, v);
            Ok(())
        }
        Value::Array(l) => {
            let i = index(l, &last, path, true)?;
            l.insert(i, v);
            Ok(())
        }
        _ => Err(format!(
            "path '{path}' does not exist: its parent is not an object or list"
        )),
    }
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, String> {
    let (p, last) = parent(doc, path)?;
    match p {
        Value::Object(m) => m
            .shift_remove(&last)
            .ok_or_else(|| format!("path '{path}' does not exist: no field '{last}'")),
        Value::Array(l) => {
            let i = index(l, &last, path, false)?;
            Ok(l.remove(i))
        }
        _ => Err(format!("path '{path}' does not exist")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn move_copy_test() {
        let mut doc = json!({"a": {"b": 1}, "l": [1, 2]});
        let ops = json!([
            {"op": "test", "path": "/a/b", "value": 1},
            {"op": "copy", "from": "/a/b", "path": "/c"},
            {"op": "move", "from": "/l/0", "path": "/l/-"},
            {"op": "add", "path": "/x~1y", "value": true},
            {"op": "remove", "path": "/a"}
        ]);
        apply(&mut doc, ops.as_array().unwrap()).unwrap();
        assert_eq!(doc, json!({"l": [2, 1], "c": 1, "x/y": true}));
    }

    #[test]
    fn missing_paths_are_named() {
        let mut doc = json!({"a": {}});
        let e = apply(
            &mut doc,
            json!([{"op": "replace", "path": "/a/b/c", "value": 1}])
                .as_array()
                .unwrap(),
        )
        .unwrap_err();
        assert!(e.contains("/a/b/c") && e.contains("does not exist"), "{e}");
        let e = apply(
            &mut doc,
            json!([{"op": "test", "path": "/a", "value": 2}])
                .as_array()
                .unwrap(),
        )
        .unwrap_err();
        assert!(e.contains("test failed"), "{e}");
    }
}
