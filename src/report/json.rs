//! JSON answers on stdout, written as they are serialized: a plan or run summary at
//! thousands of tenants is megabytes of text that need never be held whole.

use serde::Serialize;
use std::io::Write;

/// Prints `value` as pretty JSON and a newline on stdout, as `println!` of
/// `serde_json::to_string_pretty` would, without building the text first.
pub fn print(value: &impl Serialize) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    write_pretty(&mut out, value)?;
    out.flush()
}

/// Writes `value` as pretty JSON and a newline to `out`.
fn write_pretty(out: &mut impl Write, value: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The streamed text is byte for byte what `println!` of `to_string_pretty` printed.
    #[test]
    fn same_text_as_to_string_pretty() {
        let v = serde_json::json!({"tenants": {"a": [1, 2], "b": {"x": "y"}}, "n": null});
        let mut out = Vec::new();
        write_pretty(&mut out, &v).unwrap();
        let expected = format!("{}\n", serde_json::to_string_pretty(&v).unwrap());
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }
}
