//! Self-contained HTML pages: one JSON blob of data, drawn on a canvas by
//! a small inline script, with inline CSS. No CDN, no external font, no
//! network: the file works offline and can be mailed around.
//!
//! The data sits in `<script type="application/json">`, parsed with
//! `JSON.parse` (never evaluated); `<`, `>` and `&` are written as JSON
//! escapes so no key can close the script element early.

use std::path::Path;

use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};

const STYLE: &str = include_str!("html/style.css");
const COMMON: &str = include_str!("html/common.js");

/// What one page shows.
pub(crate) struct Page<'a> {
    /// The heading and the window title (plain text).
    pub title: &'a str,
    /// One line under the heading (plain text).
    pub meta: &'a str,
    /// Help under the chart (plain text).
    pub hint: &'a str,
    /// The data, as returned by [`script_json`].
    pub data: &'a str,
    /// The script that draws it (it reads `barrow.data`).
    pub script: &'static str,
}

impl Page<'_> {
    /// The whole document.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(self.data.len() + 16 * 1024);
        out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        out.push_str("<title>");
        out.push_str(&escape_text(self.title));
        out.push_str("</title>\n<style>\n");
        out.push_str(STYLE);
        out.push_str("</style>\n</head>\n<body>\n<h1>");
        out.push_str(&escape_text(self.title));
        out.push_str("</h1>\n<div class=\"meta\">");
        out.push_str(&escape_text(self.meta));
        out.push_str("</div>\n<div id=\"charts\"></div>\n<div class=\"hint\">");
        out.push_str(&escape_text(self.hint));
        out.push_str(
            "</div>\n<div class=\"legend\" id=\"legend\"></div>\n<div id=\"tip\"></div>\n",
        );
        out.push_str(
            "<noscript>This page draws with JavaScript; its data is the JSON block in the \
             page source.</noscript>\n",
        );
        out.push_str("<script type=\"application/json\" id=\"data\">");
        out.push_str(self.data);
        out.push_str("</script>\n<script>\n");
        out.push_str(COMMON);
        out.push_str(self.script);
        out.push_str("</script>\n</body>\n</html>\n");
        out
    }
}

/// `value` as JSON that is safe inside a `<script>` element.
pub(crate) fn script_json<T: Serialize>(value: &T) -> Result<String> {
    let json = serde_json::to_string(value).map_err(|e| {
        Error::new(
            ErrorKind::Internal,
            format!("cannot encode the page's data as JSON: {e}; please report this"),
        )
        .with_source(e)
    })?;
    // `<`, `>` and `&` only occur inside JSON strings, where `\u003c` means
    // the same character.
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Escapes text for HTML element content.
pub(crate) fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// Writes `text` to `path`; errors name the file and `what` it was.
pub(crate) fn write_file(path: &Path, text: &str, what: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::write(path, what, e))
}

/// Serializes `value` as compact JSON to `path`.
pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T, what: &str) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| Error::write(path, what, e))?;
    let mut writer = std::io::BufWriter::new(file);
    serde_json::to_writer(&mut writer, value).map_err(|e| {
        let io = std::io::Error::other(e);
        Error::write(path, what, io)
    })?;
    std::io::Write::flush(&mut writer).map_err(|e| Error::write(path, what, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_json_cannot_close_the_script() {
        let json = script_json(&["</script><b>&"]).unwrap();
        assert!(!json.contains('<') && !json.contains('>') && !json.contains('&'));
        let back: Vec<String> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ["</script><b>&"]);
    }

    #[test]
    fn page_escapes_its_text_and_holds_no_external_reference() {
        let page = Page {
            title: "a <b> & c",
            meta: "m",
            hint: "h",
            data: "{}",
            script: "",
        }
        .render();
        assert!(page.contains("<h1>a &lt;b&gt; &amp; c</h1>"));
        assert!(!page.contains("http://") && !page.contains("https://"));
        assert!(!page.contains("src="));
    }
}
