//! Message bodies and their size limits.

use crate::ids::FileId;
use serde::{Deserialize, Serialize};

/// The content of a message, as the protocol defines it: an object tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Body {
    Text {
        text: String,
    },
    Custom {
        data: serde_json::Value,
    },
    /// An uploaded file (`POST /v1/conversations/{conv}/files`). Boxed: bodies sit in every
    /// inbox entry, and text ones, the most common, should not pay for an attachment's size.
    File(Box<Attachment>),
    /// An uploaded image: an attachment whose `mime` is `image/*`.
    Image(Box<Attachment>),
}

/// An uploaded file as a message names it. The api checks, at the send, that the file exists,
/// was uploaded for the message's conversation, and that `name`, `size` and `mime` are the
/// stored file's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attachment {
    pub file_id: FileId,
    pub name: String,
    pub size: u64,
    pub mime: String,
    /// Pixels, as the client states them (images; not checked against the bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}

/// Longest file name, in bytes.
pub const MAX_FILE_NAME_BYTES: usize = 255;

/// Longest media type, in bytes (RFC 6838 allows 127 per part).
pub const MAX_MIME_BYTES: usize = 255;

/// Largest `width` or `height` an image body may state.
pub const MAX_IMAGE_SIDE: u32 = 100_000;

/// Whether `name` may name a file: 1-255 bytes, no control characters, no path separators
/// (it becomes a download's `Content-Disposition` filename).
pub fn valid_file_name(name: &str) -> bool {
    (1..=MAX_FILE_NAME_BYTES).contains(&name.len())
        && !name
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\')
}

/// Whether `mime` is a bare media type, `type/subtype` in lowercase RFC 6838 token
/// characters, without parameters.
pub fn valid_mime(mime: &str) -> bool {
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$&-^_.+".contains(&b))
    };
    mime.len() <= MAX_MIME_BYTES
        && mime
            .split_once('/')
            .is_some_and(|(kind, sub)| token(kind) && token(sub))
}

/// `Body` reads an object only: the derived form would also take a sequence
/// (`["custom", {...}]`), and a variant index for `type` (`{"type":1,"data":...}`).
impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{Error, IgnoredAny, MapAccess, Visitor};
        struct Object;
        impl<'de> Visitor<'de> for Object {
            type Value = Body;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a body object with a \"type\"")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Body, A::Error> {
                let mut kind: Option<String> = None;
                let mut text: Option<String> = None;
                let mut data: Option<serde_json::Value> = None;
                let mut file_id: Option<FileId> = None;
                let mut name: Option<String> = None;
                let mut size: Option<u64> = None;
                let mut mime: Option<String> = None;
                let mut width: Option<u32> = None;
                let mut height: Option<u32> = None;
                fn once<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
                    map: &mut A,
                    slot: &mut Option<T>,
                    field: &'static str,
                ) -> Result<(), A::Error> {
                    if slot.is_some() {
                        return Err(A::Error::duplicate_field(field));
                    }
                    *slot = Some(map.next_value()?);
                    Ok(())
                }
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "type" => once(&mut map, &mut kind, "type")?,
                        "text" => once(&mut map, &mut text, "text")?,
                        "data" => once(&mut map, &mut data, "data")?,
                        "file_id" => once(&mut map, &mut file_id, "file_id")?,
                        "name" => once(&mut map, &mut name, "name")?,
                        "size" => once(&mut map, &mut size, "size")?,
                        "mime" => once(&mut map, &mut mime, "mime")?,
                        // `null` reads as absent, as the optional fields are written.
                        "width" => {
                            let value: Option<u32> = map.next_value()?;
                            if width.replace(value.unwrap_or(0)).is_some() {
                                return Err(A::Error::duplicate_field("width"));
                            }
                        }
                        "height" => {
                            let value: Option<u32> = map.next_value()?;
                            if height.replace(value.unwrap_or(0)).is_some() {
                                return Err(A::Error::duplicate_field("height"));
                            }
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                let attachment = || -> Result<Attachment, A::Error> {
                    Ok(Attachment {
                        file_id: file_id.ok_or_else(|| A::Error::missing_field("file_id"))?,
                        name: name.ok_or_else(|| A::Error::missing_field("name"))?,
                        size: size.ok_or_else(|| A::Error::missing_field("size"))?,
                        mime: mime.ok_or_else(|| A::Error::missing_field("mime"))?,
                        width: width.filter(|w| *w != 0),
                        height: height.filter(|h| *h != 0),
                    })
                };
                match kind.as_deref() {
                    Some("text") => Ok(Body::Text {
                        text: text.ok_or_else(|| A::Error::missing_field("text"))?,
                    }),
                    Some("custom") => Ok(Body::Custom {
                        data: data.ok_or_else(|| A::Error::missing_field("data"))?,
                    }),
                    Some("file") => Ok(Body::File(Box::new(attachment()?))),
                    Some("image") => Ok(Body::Image(Box::new(attachment()?))),
                    Some(other) => Err(A::Error::unknown_variant(
                        other,
                        &["text", "custom", "file", "image"],
                    )),
                    None => Err(A::Error::missing_field("type")),
                }
            }
        }
        deserializer.deserialize_map(Object)
    }
}

/// Per-app limits on bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    pub max_text_bytes: usize,
    pub max_custom_bytes: usize,
}

impl Default for BodyLimits {
    fn default() -> Self {
        Self {
            max_text_bytes: 4096,
            max_custom_bytes: 16 * 1024,
        }
    }
}

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("text is empty")]
    EmptyText,
    #[error("text is {len} bytes, the limit is {max}")]
    TextTooLarge { len: usize, max: usize },
    #[error("custom data is {len} bytes encoded, the limit is {max}")]
    CustomTooLarge { len: usize, max: usize },
    #[error("invalid file body: {0}")]
    InvalidFile(&'static str),
}

impl Body {
    /// Checks the body against `limits`.
    pub fn validate(&self, limits: BodyLimits) -> Result<(), BodyError> {
        match self {
            Body::Text { text } if text.is_empty() => Err(BodyError::EmptyText),
            Body::Text { text } if text.len() > limits.max_text_bytes => {
                Err(BodyError::TextTooLarge {
                    len: text.len(),
                    max: limits.max_text_bytes,
                })
            }
            Body::Text { .. } => Ok(()),
            Body::File(file) => file.validate(),
            Body::Image(image) => {
                image.validate()?;
                if !image.mime.starts_with("image/") {
                    return Err(BodyError::InvalidFile("an image's mime must be image/*"));
                }
                Ok(())
            }
            Body::Custom { data } => {
                let len = serde_json::to_vec(data)
                    .map(|v| v.len())
                    .unwrap_or(usize::MAX);
                if len > limits.max_custom_bytes {
                    Err(BodyError::CustomTooLarge {
                        len,
                        max: limits.max_custom_bytes,
                    })
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// What kind of body a message has: the part of it that decides what may be done with it
/// (only text is edited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyKind {
    Text,
    Custom,
    File,
    Image,
}

impl BodyKind {
    /// The kind's name, as the body's `type` says it.
    pub fn as_str(self) -> &'static str {
        match self {
            BodyKind::Text => "text",
            BodyKind::Custom => "custom",
            BodyKind::File => "file",
            BodyKind::Image => "image",
        }
    }
}

impl Body {
    /// The body's kind.
    pub fn kind(&self) -> BodyKind {
        match self {
            Body::Text { .. } => BodyKind::Text,
            Body::Custom { .. } => BodyKind::Custom,
            Body::File(_) => BodyKind::File,
            Body::Image(_) => BodyKind::Image,
        }
    }

    /// The uploaded file the body names, if it names one.
    pub fn attachment(&self) -> Option<&Attachment> {
        match self {
            Body::File(a) | Body::Image(a) => Some(a),
            Body::Text { .. } | Body::Custom { .. } => None,
        }
    }
}

impl Attachment {
    /// Checks the fields a client states (whether they match the stored file is the api's
    /// check, which needs the files bucket).
    pub fn validate(&self) -> Result<(), BodyError> {
        if !valid_file_name(&self.name) {
            return Err(BodyError::InvalidFile(
                "name must be 1-255 bytes without control characters or slashes",
            ));
        }
        if !valid_mime(&self.mime) {
            return Err(BodyError::InvalidFile(
                "mime must be a lowercase type/subtype without parameters",
            ));
        }
        for side in [self.width, self.height].into_iter().flatten() {
            if side > MAX_IMAGE_SIDE {
                return Err(BodyError::InvalidFile("width and height must be 1-100000"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_an_object_never_a_sequence() {
        let text: Body = serde_json::from_str(r#"{"type":"text","text":"hi"}"#).unwrap();
        assert_eq!(text, Body::Text { text: "hi".into() });
        let custom: Body = serde_json::from_str(r#"{"type":"custom","data":[1]}"#).unwrap();
        assert_eq!(
            custom,
            Body::Custom {
                data: serde_json::json!([1])
            }
        );
        for bad in [
            r#"["custom",{"a":1}]"#,
            r#"["text","hi"]"#,
            r#""hi""#,
            r#"{"type":"x"}"#,
            r#"{"type":1,"data":{}}"#,
            r#"{"type":0,"text":"hi"}"#,
            r#"{"type":"text","text":7}"#,
            r#"{"type":"text"}"#,
            r#"{"type":"text","type":"text","text":"hi"}"#,
        ] {
            assert!(serde_json::from_str::<Body>(bad).is_err(), "{bad}");
        }
        // Stored rows and MessagePack frames keep their map form.
        let packed = rmp_serde::to_vec_named(&text).unwrap();
        assert_eq!(rmp_serde::from_slice::<Body>(&packed).unwrap(), text);
    }

    #[test]
    fn a_body_type_is_a_name_never_an_index() {
        // Found by fuzz/ (group_op, for the group op's tag): read from a flattened struct, as the
        // server API's send is, serde's derived tag took a variant's index.
        #[derive(Debug, Deserialize)]
        struct Outer {
            #[serde(flatten)]
            inner: Inner,
        }
        #[derive(Debug, Deserialize)]
        struct Inner {
            body: Body,
        }
        let read = |text| serde_json::from_str::<Outer>(text).map(|o| o.inner.body);
        let text = read(r#"{"body":{"type":"text","text":"hi"}}"#).unwrap();
        assert_eq!(text, Body::Text { text: "hi".into() });
        assert!(read(r#"{"body":{"type":0,"text":"hi"}}"#).is_err());
        assert!(read(r#"{"body":{"type":1,"data":1}}"#).is_err());
    }

    #[test]
    fn limits_are_enforced() {
        let limits = BodyLimits::default();
        let ok = Body::Text {
            text: "x".repeat(4096),
        };
        assert_eq!(ok.validate(limits), Ok(()));
        let big = Body::Text {
            text: "x".repeat(4097),
        };
        assert!(matches!(
            big.validate(limits),
            Err(BodyError::TextTooLarge { len: 4097, .. })
        ));
        let empty = Body::Text {
            text: String::new(),
        };
        assert_eq!(empty.validate(limits), Err(BodyError::EmptyText));
        let custom = Body::Custom {
            data: serde_json::json!({ "blob": "y".repeat(17 * 1024) }),
        };
        assert!(matches!(
            custom.validate(limits),
            Err(BodyError::CustomTooLarge { .. })
        ));
    }

    const FILE_ID: &str = "019b7b1c-3a00-7000-8000-0000000000f1";

    fn image() -> Body {
        Body::Image(Box::new(Attachment {
            file_id: FileId::parse(FILE_ID).unwrap(),
            name: "cat.png".into(),
            size: 1234,
            mime: "image/png".into(),
            width: Some(640),
            height: Some(480),
        }))
    }

    #[test]
    fn file_bodies_parse_strictly_and_round_trip() {
        let json = format!(
            r#"{{"type":"image","file_id":"{FILE_ID}","name":"cat.png","size":1234,"mime":"image/png","width":640,"height":480,"extra":1}}"#
        );
        let body: Body = serde_json::from_str(&json).unwrap();
        assert_eq!(body, image());
        assert_eq!(body.attachment().unwrap().size, 1234);
        let file: Body = serde_json::from_str(&format!(
            r#"{{"type":"file","file_id":"{FILE_ID}","name":"a.pdf","size":3,"mime":"application/pdf","width":null}}"#
        ))
        .unwrap();
        let Body::File(a) = &file else {
            panic!("{file:?}")
        };
        assert_eq!((a.width, a.height), (None, None));
        // Absent dimensions stay absent on the wire.
        let text = serde_json::to_string(&file).unwrap();
        assert!(!text.contains("width"), "{text}");
        for value in [&body, &file] {
            let back: Body = serde_json::from_str(&serde_json::to_string(value).unwrap()).unwrap();
            assert_eq!(&back, value);
            let packed = rmp_serde::to_vec_named(value).unwrap();
            assert_eq!(&rmp_serde::from_slice::<Body>(&packed).unwrap(), value);
        }
        for bad in [
            r#"{"type":"file","name":"a","size":1,"mime":"a/b"}"#.to_owned(),
            r#"{"type":"file","file_id":"x","name":"a","size":1,"mime":"a/b"}"#.to_owned(),
            format!(r#"{{"type":"file","file_id":"{FILE_ID}","size":1,"mime":"a/b"}}"#),
            format!(r#"{{"type":"file","file_id":"{FILE_ID}","name":"a","mime":"a/b"}}"#),
            format!(r#"{{"type":"file","file_id":"{FILE_ID}","name":"a","size":-1,"mime":"a/b"}}"#),
            format!(r#"{{"type":"file","file_id":"{FILE_ID}","name":"a","size":1}}"#),
            format!(
                r#"{{"type":"file","file_id":"{FILE_ID}","file_id":"{FILE_ID}","name":"a","size":1,"mime":"a/b"}}"#
            ),
            format!(
                r#"{{"type":"image","file_id":"{FILE_ID}","name":"a","size":1,"mime":"image/png","width":"9"}}"#
            ),
            format!(r#"["image","{FILE_ID}","a",1,"image/png"]"#),
        ] {
            assert!(serde_json::from_str::<Body>(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn file_bodies_are_validated() {
        let limits = BodyLimits::default();
        assert_eq!(image().validate(limits), Ok(()));
        let with = |f: fn(&mut Attachment)| {
            let Body::Image(mut a) = image() else {
                unreachable!()
            };
            f(&mut a);
            (Body::Image(a.clone()), Body::File(a))
        };
        let (not_image, as_file) = with(|a| a.mime = "application/pdf".into());
        assert!(matches!(
            not_image.validate(limits),
            Err(BodyError::InvalidFile(_))
        ));
        assert_eq!(as_file.validate(limits), Ok(()));
        for bad in [
            with(|a| a.name = String::new()),
            with(|a| a.name = "x".repeat(256)),
            with(|a| a.name = "../etc/passwd".into()),
            with(|a| a.name = "a\nb".into()),
            with(|a| a.mime = "image/PNG".into()),
            with(|a| a.mime = "image/png; q=1".into()),
            with(|a| a.mime = "png".into()),
            with(|a| a.width = Some(MAX_IMAGE_SIDE + 1)),
        ] {
            assert!(
                matches!(bad.0.validate(limits), Err(BodyError::InvalidFile(_))),
                "{bad:?}"
            );
            assert!(
                matches!(bad.1.validate(limits), Err(BodyError::InvalidFile(_))),
                "{bad:?}"
            );
        }
        assert_eq!(
            with(|a| a.name = "résumé 2026.pdf".into())
                .1
                .validate(limits),
            Ok(())
        );
    }

    #[test]
    fn json_shape_matches_the_protocol() {
        let body: Body = serde_json::from_str(r#"{"type":"text","text":"hi"}"#).unwrap();
        assert_eq!(body, Body::Text { text: "hi".into() });
        let custom: Body = serde_json::from_str(r#"{"type":"custom","data":{"k":[1,2]}}"#).unwrap();
        assert!(matches!(custom, Body::Custom { .. }));
    }
}
