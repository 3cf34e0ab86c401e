//! Cutting a chunked answer's bytes into its newline-terminated JSON objects. Pure.
//!
//! InfluxDB ends each object of a chunked answer with a newline; JSON strings carry
//! newlines escaped, so a raw newline always ends an object.

/// Cuts a byte stream into newline-terminated lines. Pure.
#[derive(Debug, Default)]
pub struct LineSplitter {
    buf: Vec<u8>,
    /// Bytes before this are known to hold no newline.
    scanned: usize,
}

impl LineSplitter {
    /// Adds bytes that arrived.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete line (without its newline), if one has arrived.
    pub fn next_line(&mut self) -> Option<Vec<u8>> {
        match self.buf[self.scanned..].iter().position(|&b| b == b'\n') {
            Some(p) => {
                let end = self.scanned + p;
                let rest = self.buf.split_off(end + 1);
                let mut line = std::mem::replace(&mut self.buf, rest);
                line.truncate(end);
                self.scanned = 0;
                Some(line)
            }
            None => {
                self.scanned = self.buf.len();
                None
            }
        }
    }

    /// What is left after the last newline (the stream ended without one).
    pub fn take_rest(&mut self) -> Vec<u8> {
        self.scanned = 0;
        std::mem::take(&mut self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines come out whole however the bytes were cut; the unterminated rest stays.
    #[test]
    fn splitter_reassembles_lines() {
        let text = b"{\"a\":1}\n{\"b\":\"x\\ny\"}\n{\"c\"";
        for cut in 1..text.len() {
            let mut s = LineSplitter::default();
            let mut got = Vec::new();
            for piece in text.chunks(cut) {
                s.push(piece);
                while let Some(l) = s.next_line() {
                    got.push(l);
                }
            }
            assert_eq!(
                got,
                vec![b"{\"a\":1}".to_vec(), b"{\"b\":\"x\\ny\"}".to_vec()]
            );
            assert_eq!(s.take_rest(), b"{\"c\"".to_vec());
        }
    }
}
