//! Small text helpers for the hot paths that read supplier values.

/// `s.trim()`, answered from the first and last bytes when they are printable ASCII (nearly
/// every SKU, quantity and flag): `str::trim` decodes a character at each end and asks the
/// Unicode tables about it, a noticeable share of mapping a short value.
#[inline]
pub(crate) fn trim(s: &str) -> &str {
    let printable = |b: u8| b > b' ' && b < 0x7f;
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(&first), Some(&last)) if printable(first) && printable(last) => s,
        _ => s.trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::trim;

    #[test]
    fn agrees_with_the_standard_trim() {
        for s in [
            "",
            " ",
            "a",
            " a ",
            "\ta\n",
            "a\u{3000}",
            "\u{a0}a",
            "é",
            " é ",
            "a\u{7f}",
            "\u{1}a",
            "\u{85}x",
            "x\u{2028}",
            "ab  cd",
            "\r\n12\r\n",
        ] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
    }
}
