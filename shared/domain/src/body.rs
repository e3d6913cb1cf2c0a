//! Message bodies and their size limits.

use serde::{Deserialize, Serialize};

/// The content of a message, as the protocol defines it: an object tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Body {
    Text { text: String },
    Custom { data: serde_json::Value },
}

/// `Body`'s derived form, which would also take a sequence (`["custom", {...}]`): `Body` reads
/// it from a map only.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Tagged {
    Text { text: String },
    Custom { data: serde_json::Value },
}

impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        use serde::de::value::MapAccessDeserializer;
        struct Object;
        impl<'de> serde::de::Visitor<'de> for Object {
            type Value = Tagged;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a body object with a \"type\"")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Tagged, A::Error> {
                // Read as a JSON object first: from a buffered (flattened) body, serde's derived
                // tag would also take a variant's index (`"type": 0` was `text`).
                let object = serde_json::Map::deserialize(MapAccessDeserializer::new(map))?;
                Tagged::deserialize(serde_json::Value::Object(object)).map_err(A::Error::custom)
            }
        }
        Ok(match deserializer.deserialize_map(Object)? {
            Tagged::Text { text } => Body::Text { text },
            Tagged::Custom { data } => Body::Custom { data },
        })
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

    #[test]
    fn json_shape_matches_the_protocol() {
        let body: Body = serde_json::from_str(r#"{"type":"text","text":"hi"}"#).unwrap();
        assert_eq!(body, Body::Text { text: "hi".into() });
        let custom: Body = serde_json::from_str(r#"{"type":"custom","data":{"k":[1,2]}}"#).unwrap();
        assert!(matches!(custom, Body::Custom { .. }));
    }
}
