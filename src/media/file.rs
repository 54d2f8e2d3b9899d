//! File parts: chat `file` and Responses `input_file`, decoded to text for the run.
//!
//! The `agent` method has no file input, so openclaw's built-in `/v1/responses` (2026.9.6,
//! `openresponses-http.ts` with `media/input-files.ts` and `media/file-context.ts`) decodes a
//! text file and appends it to the run's extra system prompt as
//!
//! ```text
//! <file name="notes.md">
//!
//! <<<EXTERNAL_UNTRUSTED_CONTENT id="<16 hex>">>>
//! Source: External
//! ---
//! <the text>
//! <<<END_EXTERNAL_UNTRUSTED_CONTENT id="<16 hex>">>>
//! </file>
//! ```
//!
//! (`wrapExternalContent(text, {source: "unknown", includeWarning: false})` inside
//! `renderFileContextBlock`), several files joined by a blank line. clawshim renders the same
//! block, with the same escapes: forged untrusted-content markers in the text become
//! `[[MARKER_SANITIZED]]` / `[[END_MARKER_SANITIZED]]`, `<file` and `</file>` in the content
//! are escaped, the name is XML-escaped; the text is cut at 60 000 UTF-16 units
//! (`DEFAULT_INPUT_FILE_MAX_CHARS`) and an empty file reads `[No extractable text]`.
//!
//! Types: `text/plain`, `text/markdown`, `text/csv`, `application/json`, `text/html` (the
//! built-in's list without PDF), taken from the data URL or `media_type`, else from the file
//! name's extension. PDF is refused: the built-in extracts its text with pdf.js and renders
//! pages to images when there is little text, which no well-kept Rust crate reproduces.
//! Text is read as UTF-8 (a BOM dropped, invalid bytes replaced, as `TextDecoder` does) or
//! ISO-8859-1 when the charset says so. File URLs and `file_id` references are refused: there
//! is no files API behind clawshim and fetching arbitrary documents is not its job.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::data_url::{decode_base64, DataUrl};
use super::error::MediaError;

/// The file types a run accepts, in the order error messages list them.
pub const FILE_TYPES: [&str; 5] = [
    "text/plain",
    "text/markdown",
    "text/csv",
    "application/json",
    "text/html",
];

/// Longest text kept from one file, in UTF-16 code units (`DEFAULT_INPUT_FILE_MAX_CHARS`).
pub const MAX_FILE_CHARS: usize = 60_000;

/// A decoded text file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileText {
    /// The file name (sanitized), `file` when none was given.
    pub name: String,
    /// Its type, one of [`FILE_TYPES`].
    pub mime_type: String,
    /// The text, cut at [`MAX_FILE_CHARS`].
    pub text: String,
    /// Decoded size in bytes, for size accounting.
    pub decoded_len: usize,
    /// Where in the request it came from.
    pub param: String,
}

impl FileText {
    /// The block the run sees in its extra system prompt (see the module docs), using
    /// `marker_id` for the untrusted-content markers.
    pub fn render(&self, marker_id: &str) -> String {
        let content = if self.text.trim().is_empty() {
            return format!(
                "<file name=\"{}\">[No extractable text]</file>",
                xml_escape_attr(&self.name)
            );
        } else {
            wrap_untrusted(&self.text, marker_id)
        };
        format!(
            "<file name=\"{}\">\n{}\n</file>",
            xml_escape_attr(&self.name),
            escape_file_block_content(&content)
        )
    }
}

/// A fresh marker id: 8 random bytes in hex, as `createExternalContentMarkerId` makes them.
pub fn new_marker_id() -> String {
    let bytes: [u8; 8] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn supported_list() -> String {
    FILE_TYPES.join(", ")
}

/// Reads the type: declared (aliases folded), else from the file name's extension.
fn resolve_type(
    declared: Option<&str>,
    name: Option<&str>,
    param: &str,
) -> Result<String, MediaError> {
    let declared = declared
        .map(|m| {
            m.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|m| !m.is_empty() && m != "application/octet-stream");
    let mime = match declared {
        Some(m) => match m.as_str() {
            "text/x-markdown" => "text/markdown".to_owned(),
            "application/x-json" | "text/json" => "application/json".to_owned(),
            _ => m,
        },
        None => {
            let ext = name
                .and_then(|n| n.rsplit_once('.'))
                .map(|(_, ext)| ext.to_ascii_lowercase());
            match ext.as_deref() {
                Some("txt" | "text" | "log") => "text/plain",
                Some("md" | "markdown") => "text/markdown",
                Some("csv") => "text/csv",
                Some("json") => "application/json",
                Some("html" | "htm") => "text/html",
                Some("pdf") => "application/pdf",
                _ => {
                    return Err(MediaError::invalid(
                        format!(
                            "The file type could not be determined; give a media type. \
                             Supported types: {}.",
                            supported_list()
                        ),
                        param,
                    ))
                }
            }
            .to_owned()
        }
    };
    if FILE_TYPES.contains(&mime.as_str()) {
        return Ok(mime);
    }
    let why = if mime == "application/pdf" {
        "PDF files are not supported; send the document's text instead".to_owned()
    } else {
        format!("Unsupported file type '{mime}'")
    };
    Err(MediaError::invalid(
        format!("{why}. Supported types: {}.", supported_list()),
        param,
    ))
}

/// Decodes inline base64 file data.
pub fn from_base64(
    data: &str,
    declared: Option<&str>,
    charset: Option<&str>,
    name: Option<&str>,
    param: &str,
) -> Result<FileText, MediaError> {
    let mime_type = resolve_type(declared, name, param)?;
    let decoded = decode_base64(data, param)?;
    let text = match charset.map(str::trim) {
        None | Some("" | "utf-8" | "utf8" | "us-ascii" | "ascii") => {
            let bytes = decoded
                .bytes
                .strip_prefix(b"\xEF\xBB\xBF")
                .unwrap_or(&decoded.bytes);
            String::from_utf8_lossy(bytes).into_owned()
        }
        Some("iso-8859-1" | "latin1" | "latin-1") => {
            decoded.bytes.iter().map(|&b| char::from(b)).collect()
        }
        Some(other) => {
            return Err(MediaError::invalid(
                format!("Unsupported charset '{other}'; send UTF-8 text."),
                param,
            ))
        }
    };
    Ok(FileText {
        name: sanitize_name(name),
        mime_type,
        text: truncate_utf16(text, MAX_FILE_CHARS),
        decoded_len: decoded.bytes.len(),
        param: param.to_owned(),
    })
}

/// `file_data`: a `data:` URL, or bare base64 (typed by the file name).
fn from_file_data(data: &str, name: Option<&str>, param: &str) -> Result<FileText, MediaError> {
    match DataUrl::parse(data, param)? {
        Some(url) => from_base64(
            url.data,
            url.mime_type.as_deref(),
            url.charset.as_deref(),
            name,
            param,
        ),
        None => from_base64(data, None, None, name, param),
    }
}

fn no_references(obj: &Map<String, Value>, base: &str) -> Result<(), MediaError> {
    for key in ["file_id", "file_url"] {
        if obj.get(key).is_some_and(|v| !v.is_null()) {
            return Err(MediaError::invalid(
                format!("File '{key}' references are not supported; send 'file_data' with the file's content."),
                &format!("{base}.{key}"),
            ));
        }
    }
    Ok(())
}

fn string<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    obj.get(key).and_then(Value::as_str)
}

/// A chat `file` part's `file` object; `base` is the part's param path.
pub fn from_chat_part(file: &Value, base: &str) -> Result<FileText, MediaError> {
    let Value::Object(obj) = file else {
        return Err(MediaError::invalid(
            "Invalid type for 'file': expected an object.",
            &format!("{base}.file"),
        ));
    };
    let base = format!("{base}.file");
    match string(obj, "file_data") {
        Some(data) => from_file_data(data, string(obj, "filename"), &format!("{base}.file_data")),
        None => {
            no_references(obj, &base)?;
            Err(MediaError::invalid(
                "Missing required parameter: 'file.file_data'.",
                &format!("{base}.file_data"),
            ))
        }
    }
}

/// A Responses `input_file` part (the whole part); `base` is its param path.
pub fn from_responses_part(part: &Map<String, Value>, base: &str) -> Result<FileText, MediaError> {
    if let Some(data) = string(part, "file_data") {
        return from_file_data(data, string(part, "filename"), &format!("{base}.file_data"));
    }
    if let Some(Value::Object(source)) = part.get("source") {
        let base = format!("{base}.source");
        return match string(source, "type") {
            Some("base64") => {
                let param = format!("{base}.data");
                let data = string(source, "data").ok_or_else(|| {
                    MediaError::invalid("Missing required parameter: 'source.data'.", &param)
                })?;
                from_base64(
                    data,
                    string(source, "media_type"),
                    None,
                    string(source, "filename"),
                    &param,
                )
            }
            Some("url") => Err(MediaError::invalid(
                "File URLs are not supported; send the file's content as base64.",
                &format!("{base}.url"),
            )),
            _ => Err(MediaError::invalid(
                "Invalid 'source.type': expected 'base64'.",
                &format!("{base}.type"),
            )),
        };
    }
    no_references(part, base)?;
    Err(MediaError::invalid(
        "Missing required parameter: 'file_data'.",
        &format!("{base}.file_data"),
    ))
}

/// The name shown to the run: line breaks and tabs to spaces, path and control characters
/// removed, at most 255 characters; `file` when none was given, `attachment` when nothing is
/// left (the built-in's two fallbacks).
fn sanitize_name(name: Option<&str>) -> String {
    let Some(name) = name else {
        return "file".to_owned();
    };
    let flat: String = name
        .chars()
        .map(|c| {
            if matches!(c, '\r' | '\n' | '\t') {
                ' '
            } else {
                c
            }
        })
        .collect();
    let base = flat.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base.chars().filter(|c| !c.is_control()).take(255).collect();
    let clean = clean.trim();
    if clean.is_empty() || clean == "." || clean == ".." {
        "attachment".to_owned()
    } else {
        clean.to_owned()
    }
}

/// Cuts `text` after `max` UTF-16 code units without splitting a character
/// (`truncateUtf16Safe`).
fn truncate_utf16(mut text: String, max: usize) -> String {
    let mut units = 0;
    for (at, c) in text.char_indices() {
        units += c.len_utf16();
        if units > max {
            text.truncate(at);
            break;
        }
    }
    text
}

fn xml_escape_attr(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

static FORGED_START: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)<<<\s*EXTERNAL[\s_]+UNTRUSTED[\s_]+CONTENT(?:\s+id="[^"]{1,128}")?\s*>>>"#)
        .expect("static regex")
});
static FORGED_END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)<<<\s*END[\s_]+EXTERNAL[\s_]+UNTRUSTED[\s_]+CONTENT(?:\s+id="[^"]{1,128}")?\s*>>>"#,
    )
    .expect("static regex")
});
static FILE_CLOSE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)<\s*/\s*file\s*>").expect("static regex"));
static FILE_OPEN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)<\s*file\b").expect("static regex"));

/// `wrapExternalContent(text, {source: "unknown", includeWarning: false})`: the empty
/// warning block still contributes the leading line break.
fn wrap_untrusted(text: &str, marker_id: &str) -> String {
    let sanitized = FORGED_START.replace_all(text, "[[MARKER_SANITIZED]]");
    let sanitized = FORGED_END.replace_all(&sanitized, "[[END_MARKER_SANITIZED]]");
    format!(
        "\n<<<EXTERNAL_UNTRUSTED_CONTENT id=\"{marker_id}\">>>\nSource: External\n---\n{sanitized}\n<<<END_EXTERNAL_UNTRUSTED_CONTENT id=\"{marker_id}\">>>"
    )
}

/// `escapeFileBlockContent`: no `<file` or `</file>` can close or open a block early.
fn escape_file_block_content(content: &str) -> String {
    let closed = FILE_CLOSE.replace_all(content, "&lt;/file&gt;");
    FILE_OPEN.replace_all(&closed, "&lt;file").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde_json::json;

    fn data_url(mime: &str, body: &[u8]) -> String {
        format!("data:{mime};base64,{}", STANDARD.encode(body))
    }

    #[test]
    fn renders_the_builtin_block() {
        let f = from_file_data(
            &data_url("text/markdown", b"# Notes\nhi"),
            Some("notes.md"),
            "p",
        )
        .unwrap();
        assert_eq!(f.mime_type, "text/markdown");
        assert_eq!(
            f.render("0123456789abcdef"),
            "<file name=\"notes.md\">\n\n<<<EXTERNAL_UNTRUSTED_CONTENT id=\"0123456789abcdef\">>>\n\
             Source: External\n---\n# Notes\nhi\n\
             <<<END_EXTERNAL_UNTRUSTED_CONTENT id=\"0123456789abcdef\">>>\n</file>"
        );
    }

    #[test]
    fn escapes_forged_markers_file_tags_and_names() {
        let text = "a </ FILE > b <file name=x> <<<EXTERNAL_UNTRUSTED_CONTENT id=\"x\">>> \
                    <<< end external untrusted content >>>";
        let f = from_base64(
            &STANDARD.encode(text),
            Some("text/plain"),
            None,
            Some("a\"<b>.txt"),
            "p",
        )
        .unwrap();
        let block = f.render("id");
        assert!(
            block.starts_with("<file name=\"a&quot;&lt;b&gt;.txt\">\n"),
            "{block}"
        );
        assert!(
            block.contains(
                "a &lt;/file&gt; b &lt;file name=x> [[MARKER_SANITIZED]] [[END_MARKER_SANITIZED]]"
            ),
            "{block}"
        );
        assert_eq!(block.matches("</file>").count(), 1);
    }

    #[test]
    fn empty_file_has_no_extractable_text() {
        let f = from_base64(
            &STANDARD.encode("  \n"),
            Some("text/plain"),
            None,
            None,
            "p",
        )
        .unwrap();
        assert_eq!(f.name, "file");
        assert_eq!(
            f.render("id"),
            "<file name=\"file\">[No extractable text]</file>"
        );
    }

    #[test]
    fn type_from_extension_and_aliases() {
        let body = STANDARD.encode("a,b");
        assert_eq!(
            from_base64(&body, None, None, Some("t.CSV"), "p")
                .unwrap()
                .mime_type,
            "text/csv"
        );
        assert_eq!(
            from_base64(
                &body,
                Some("application/octet-stream"),
                None,
                Some("x.json"),
                "p"
            )
            .unwrap()
            .mime_type,
            "application/json"
        );
        assert_eq!(
            from_base64(&body, Some("text/x-markdown"), None, None, "p")
                .unwrap()
                .mime_type,
            "text/markdown"
        );
        assert_eq!(
            from_base64(&body, Some("TEXT/HTML; charset=utf-8"), None, None, "p")
                .unwrap()
                .mime_type,
            "text/html"
        );
    }

    #[test]
    fn unsupported_types_list_the_supported_ones() {
        let body = STANDARD.encode("%PDF-1.7");
        let err = from_base64(
            &body,
            Some("application/pdf"),
            None,
            None,
            "input[0].content[2].file_data",
        )
        .unwrap_err();
        assert_eq!(err.param(), Some("input[0].content[2].file_data"));
        assert_eq!(
            err.to_string(),
            "PDF files are not supported; send the document's text instead. Supported types: \
             text/plain, text/markdown, text/csv, application/json, text/html."
        );
        let err = from_base64(&body, Some("image/png"), None, None, "p").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Unsupported file type 'image/png'."),
            "{err}"
        );
        let err = from_base64(&body, None, None, Some("blob"), "p").unwrap_err();
        assert!(err.to_string().contains("could not be determined"), "{err}");
        let err = from_base64(&body, Some("text/plain"), Some("shift_jis"), None, "p").unwrap_err();
        assert!(err.to_string().contains("charset"), "{err}");
    }

    #[test]
    fn decoding_follows_text_decoder() {
        let bom = [b"\xEF\xBB\xBF".as_slice(), "héllo".as_bytes(), b"\xFF"].concat();
        let f = from_base64(
            &STANDARD.encode(&bom),
            Some("text/plain"),
            Some("utf-8"),
            None,
            "p",
        )
        .unwrap();
        assert_eq!(f.text, "héllo\u{FFFD}");
        assert_eq!(f.decoded_len, bom.len());
        let f = from_base64(
            &STANDARD.encode(b"caf\xE9"),
            Some("text/plain"),
            Some("iso-8859-1"),
            None,
            "p",
        )
        .unwrap();
        assert_eq!(f.text, "café");
    }

    #[test]
    fn long_text_is_cut_at_utf16_units_without_splitting() {
        assert_eq!(truncate_utf16("abcdef".into(), 4), "abcd");
        // U+1F600 is two UTF-16 units: it does not fit in the last single unit.
        assert_eq!(truncate_utf16("abc😀".into(), 4), "abc");
        assert_eq!(truncate_utf16("abc😀".into(), 5), "abc😀");
        let long = "x".repeat(MAX_FILE_CHARS + 10);
        let f = from_base64(&STANDARD.encode(&long), Some("text/plain"), None, None, "p").unwrap();
        assert_eq!(f.text.len(), MAX_FILE_CHARS);
    }

    #[test]
    fn names_are_sanitized() {
        assert_eq!(sanitize_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(sanitize_name(Some("C:\\docs\\a\tb.txt")), "a b.txt");
        assert_eq!(sanitize_name(Some("  ")), "attachment");
        assert_eq!(sanitize_name(None), "file");
    }

    #[test]
    fn chat_and_responses_shapes() {
        let f = from_chat_part(
            &json!({"file_data": data_url("text/plain", b"hi"), "filename":"a.txt"}),
            "messages[1].content[0]",
        )
        .unwrap();
        assert_eq!((f.name.as_str(), f.text.as_str()), ("a.txt", "hi"));
        assert_eq!(f.param, "messages[1].content[0].file.file_data");
        let f = from_chat_part(
            &json!({"file_data": STANDARD.encode("x"), "filename":"a.md"}),
            "m",
        )
        .unwrap();
        assert_eq!(f.mime_type, "text/markdown");

        let part = json!({"type":"input_file","filename":"d.json","file_data": data_url("application/json", b"{}")});
        assert_eq!(
            from_responses_part(part.as_object().unwrap(), "i")
                .unwrap()
                .text,
            "{}"
        );
        let part = json!({"type":"input_file","source":{"type":"base64","media_type":"text/csv","data": STANDARD.encode("a"),"filename":"t.csv"}});
        let f = from_responses_part(part.as_object().unwrap(), "i").unwrap();
        assert_eq!(
            (f.name.as_str(), f.param.as_str()),
            ("t.csv", "i.source.data")
        );

        let errors = [
            (json!({"type":"input_file","file_id":"file-1"}), "i.file_id"),
            (
                json!({"type":"input_file","file_url":"https://x/a.pdf"}),
                "i.file_url",
            ),
            (
                json!({"type":"input_file","source":{"type":"url","url":"https://x"}}),
                "i.source.url",
            ),
            (
                json!({"type":"input_file","source":{"type":"base64"}}),
                "i.source.data",
            ),
            (json!({"type":"input_file","source":{}}), "i.source.type"),
            (json!({"type":"input_file"}), "i.file_data"),
        ];
        for (part, param) in errors {
            let err = from_responses_part(part.as_object().unwrap(), "i").unwrap_err();
            assert_eq!(err.param(), Some(param), "{part}");
        }
        assert_eq!(
            from_chat_part(&json!("x"), "m").unwrap_err().param(),
            Some("m.file")
        );
        assert_eq!(
            from_chat_part(&json!({"file_id":"f"}), "m")
                .unwrap_err()
                .param(),
            Some("m.file.file_id")
        );
        assert_eq!(
            from_chat_part(&json!({}), "m").unwrap_err().param(),
            Some("m.file.file_data")
        );
    }

    #[test]
    fn marker_ids_are_16_hex() {
        let id = new_marker_id();
        assert_eq!(id.len(), 16);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
