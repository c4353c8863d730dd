//! AMF0 (Action Message Format, version 0): the encoding of RTMP commands and of FLV
//! script data.
//!
//! Decoding is bounded three ways, checked before anything is allocated: the input's
//! size ([`Amf0Limits::max_bytes`]), how deeply objects and arrays nest, and how many
//! values there are in all. A count field is never trusted to size an allocation: an
//! "AMF bomb" (a strict array claiming four billion elements, a thousand nested objects)
//! ends in an [`Amf0Error`], not in memory.
//!
//! Reference types (0x07), movie clips, record sets, XML documents, typed objects and the
//! switch to AMF3 are refused: no RTMP peer we bridge (ffmpeg, OBS, WeChat's
//! `live-pusher`) sends them in the commands we handle.

use bytes::{BufMut, BytesMut};

const NUMBER: u8 = 0x00;
const BOOLEAN: u8 = 0x01;
const STRING: u8 = 0x02;
const OBJECT: u8 = 0x03;
const NULL: u8 = 0x05;
const UNDEFINED: u8 = 0x06;
const ECMA_ARRAY: u8 = 0x08;
const OBJECT_END: u8 = 0x09;
const STRICT_ARRAY: u8 = 0x0a;
const DATE: u8 = 0x0b;
const LONG_STRING: u8 = 0x0c;

/// One AMF0 value.
#[derive(Debug, Clone, PartialEq)]
pub enum Amf0Value {
    /// An IEEE 754 double.
    Number(f64),
    /// A boolean.
    Boolean(bool),
    /// A string; encoded as a long string when longer than 65535 bytes.
    String(String),
    /// An anonymous object: ordered name/value pairs.
    Object(Vec<(String, Amf0Value)>),
    /// `null`.
    Null,
    /// `undefined`.
    Undefined,
    /// An associative array (its count is a hint only, as in every real decoder).
    EcmaArray(Vec<(String, Amf0Value)>),
    /// A dense array.
    StrictArray(Vec<Amf0Value>),
    /// Milliseconds since the Unix epoch and a time-zone field (always 0 in practice).
    Date { millis: f64, timezone: i16 },
}

impl Amf0Value {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is one.
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Self::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The named property of an object or ECMA array.
    pub fn get(&self, name: &str) -> Option<&Amf0Value> {
        match self {
            Self::Object(props) | Self::EcmaArray(props) => {
                props.iter().find(|(k, _)| k == name).map(|(_, v)| v)
            }
            _ => None,
        }
    }

    /// A builder shorthand for objects.
    pub fn object<'a>(props: impl IntoIterator<Item = (&'a str, Amf0Value)>) -> Self {
        Self::Object(props.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    /// A builder shorthand for strings.
    pub fn string(s: impl Into<String>) -> Self {
        Self::String(s.into())
    }
}

/// Bounds on what one decode may consume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amf0Limits {
    /// Objects and arrays nested deeper than this are refused.
    pub max_depth: usize,
    /// Values in all (every nested one counts, and each property name) beyond this are
    /// refused.
    pub max_values: usize,
    /// Inputs longer than this are refused before decoding starts.
    pub max_bytes: usize,
}

impl Default for Amf0Limits {
    /// Generous for commands and `onMetaData` (ffmpeg's has about 20 properties, a
    /// `connect` about 10), tiny next to what a hostile peer would like to make us hold.
    fn default() -> Self {
        Self {
            max_depth: 16,
            max_values: 4096,
            max_bytes: 64 * 1024,
        }
    }
}

/// Why AMF0 bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Amf0Error {
    /// The input ended inside a value.
    #[error("AMF0 input ends inside a value")]
    Truncated,
    /// A type marker this decoder does not accept.
    #[error("unsupported AMF0 type marker {0:#04x}")]
    UnsupportedMarker(u8),
    /// An object-end marker where a value was expected.
    #[error("AMF0 object end outside an object")]
    UnexpectedObjectEnd,
    /// A string is not UTF-8.
    #[error("AMF0 string is not UTF-8")]
    InvalidUtf8,
    /// Nesting is deeper than [`Amf0Limits::max_depth`].
    #[error("AMF0 values nest deeper than {0}")]
    TooDeep(usize),
    /// More values than [`Amf0Limits::max_values`].
    #[error("more than {0} AMF0 values")]
    TooManyValues(usize),
    /// The input is longer than [`Amf0Limits::max_bytes`].
    #[error("AMF0 input of {len} bytes exceeds {max}")]
    TooLong { len: usize, max: usize },
    /// A value is too large to encode (a name over 65535 bytes, an array over 2³² − 1).
    #[error("AMF0 value too large to encode")]
    TooLargeToEncode,
}

/// Decodes every value in `input` (an RTMP command or data message body).
pub fn decode_all(input: &[u8], limits: Amf0Limits) -> Result<Vec<Amf0Value>, Amf0Error> {
    if input.len() > limits.max_bytes {
        return Err(Amf0Error::TooLong {
            len: input.len(),
            max: limits.max_bytes,
        });
    }
    let mut decoder = Decoder {
        input,
        limits,
        values: 0,
    };
    let mut out = Vec::new();
    while !decoder.input.is_empty() {
        out.push(decoder.value(0)?);
    }
    Ok(out)
}

struct Decoder<'a> {
    input: &'a [u8],
    limits: Amf0Limits,
    values: usize,
}

impl Decoder<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Amf0Error> {
        if self.input.len() < n {
            return Err(Amf0Error::Truncated);
        }
        let (head, rest) = self.input.split_at(n);
        self.input = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, Amf0Error> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, Amf0Error> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, Amf0Error> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn f64(&mut self) -> Result<f64, Amf0Error> {
        let b = self.take(8)?;
        Ok(f64::from_be_bytes(b.try_into().expect("8 bytes")))
    }

    fn count(&mut self) -> Result<(), Amf0Error> {
        self.values += 1;
        if self.values > self.limits.max_values {
            return Err(Amf0Error::TooManyValues(self.limits.max_values));
        }
        Ok(())
    }

    fn utf8(&mut self, len: usize) -> Result<String, Amf0Error> {
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| Amf0Error::InvalidUtf8)
    }

    fn value(&mut self, depth: usize) -> Result<Amf0Value, Amf0Error> {
        self.count()?;
        let marker = self.u8()?;
        Ok(match marker {
            NUMBER => Amf0Value::Number(self.f64()?),
            BOOLEAN => Amf0Value::Boolean(self.u8()? != 0),
            STRING => {
                let len = usize::from(self.u16()?);
                Amf0Value::String(self.utf8(len)?)
            }
            LONG_STRING => {
                let len = self.u32()? as usize;
                Amf0Value::String(self.utf8(len)?)
            }
            NULL => Amf0Value::Null,
            UNDEFINED => Amf0Value::Undefined,
            OBJECT => Amf0Value::Object(self.properties(depth + 1)?),
            ECMA_ARRAY => {
                // The count is only a hint; the object-end marker ends the array.
                self.u32()?;
                Amf0Value::EcmaArray(self.properties(depth + 1)?)
            }
            STRICT_ARRAY => {
                let depth = self.enter(depth + 1)?;
                let claimed = self.u32()? as usize;
                // Each element takes at least one byte: a count larger than what is left
                // is a lie, found before looping or allocating.
                if claimed > self.input.len() {
                    return Err(Amf0Error::Truncated);
                }
                let mut items = Vec::with_capacity(claimed.min(64));
                for _ in 0..claimed {
                    items.push(self.value(depth)?);
                }
                Amf0Value::StrictArray(items)
            }
            DATE => {
                let millis = self.f64()?;
                let timezone = self.u16()? as i16;
                Amf0Value::Date { millis, timezone }
            }
            OBJECT_END => return Err(Amf0Error::UnexpectedObjectEnd),
            other => return Err(Amf0Error::UnsupportedMarker(other)),
        })
    }

    fn enter(&self, depth: usize) -> Result<usize, Amf0Error> {
        if depth > self.limits.max_depth {
            return Err(Amf0Error::TooDeep(self.limits.max_depth));
        }
        Ok(depth)
    }

    fn properties(&mut self, depth: usize) -> Result<Vec<(String, Amf0Value)>, Amf0Error> {
        let depth = self.enter(depth)?;
        let mut props = Vec::new();
        loop {
            let len = usize::from(self.u16()?);
            if len == 0 && self.input.first() == Some(&OBJECT_END) {
                self.input = &self.input[1..];
                return Ok(props);
            }
            self.count()?;
            let name = self.utf8(len)?;
            let value = self.value(depth)?;
            props.push((name, value));
        }
    }
}

/// Appends the encoding of `value` to `out`.
pub fn encode(value: &Amf0Value, out: &mut BytesMut) -> Result<(), Amf0Error> {
    match value {
        Amf0Value::Number(n) => {
            out.put_u8(NUMBER);
            out.put_f64(*n);
        }
        Amf0Value::Boolean(b) => {
            out.put_u8(BOOLEAN);
            out.put_u8(u8::from(*b));
        }
        Amf0Value::String(s) => match u16::try_from(s.len()) {
            Ok(len) => {
                out.put_u8(STRING);
                out.put_u16(len);
                out.put_slice(s.as_bytes());
            }
            Err(_) => {
                let len = u32::try_from(s.len()).map_err(|_| Amf0Error::TooLargeToEncode)?;
                out.put_u8(LONG_STRING);
                out.put_u32(len);
                out.put_slice(s.as_bytes());
            }
        },
        Amf0Value::Object(props) => {
            out.put_u8(OBJECT);
            encode_properties(props, out)?;
        }
        Amf0Value::Null => out.put_u8(NULL),
        Amf0Value::Undefined => out.put_u8(UNDEFINED),
        Amf0Value::EcmaArray(props) => {
            out.put_u8(ECMA_ARRAY);
            out.put_u32(u32::try_from(props.len()).map_err(|_| Amf0Error::TooLargeToEncode)?);
            encode_properties(props, out)?;
        }
        Amf0Value::StrictArray(items) => {
            out.put_u8(STRICT_ARRAY);
            out.put_u32(u32::try_from(items.len()).map_err(|_| Amf0Error::TooLargeToEncode)?);
            for item in items {
                encode(item, out)?;
            }
        }
        Amf0Value::Date { millis, timezone } => {
            out.put_u8(DATE);
            out.put_f64(*millis);
            out.put_i16(*timezone);
        }
    }
    Ok(())
}

fn encode_properties(props: &[(String, Amf0Value)], out: &mut BytesMut) -> Result<(), Amf0Error> {
    for (name, value) in props {
        // An empty name is unambiguous: no value starts with the object-end marker.
        out.put_u16(u16::try_from(name.len()).map_err(|_| Amf0Error::TooLargeToEncode)?);
        out.put_slice(name.as_bytes());
        encode(value, out)?;
    }
    out.put_u16(0);
    out.put_u8(OBJECT_END);
    Ok(())
}

/// Encodes a sequence of values (a command: name, transaction id, arguments).
pub fn encode_all(values: &[Amf0Value]) -> Result<BytesMut, Amf0Error> {
    let mut out = BytesMut::new();
    for v in values {
        encode(v, &mut out)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Vec<Amf0Value> {
        vec![
            Amf0Value::string("connect"),
            Amf0Value::Number(1.0),
            Amf0Value::object([
                ("app", Amf0Value::string("room1")),
                ("fpad", Amf0Value::Boolean(false)),
                ("nested", Amf0Value::object([("x", Amf0Value::Null)])),
            ]),
            Amf0Value::Null,
            Amf0Value::Undefined,
            Amf0Value::EcmaArray(vec![("duration".into(), Amf0Value::Number(0.0))]),
            Amf0Value::StrictArray(vec![Amf0Value::Number(1.5), Amf0Value::string("b")]),
            Amf0Value::Date {
                millis: 1.7e12,
                timezone: 0,
            },
            Amf0Value::String("x".repeat(70_000)),
        ]
    }

    #[test]
    fn every_type_round_trips() {
        let values = sample();
        let bytes = encode_all(&values).unwrap();
        let limits = Amf0Limits {
            max_bytes: 1 << 20,
            ..Amf0Limits::default()
        };
        assert_eq!(decode_all(&bytes, limits).unwrap(), values);
        // The long string really was written as one.
        assert!(
            bytes
                .windows(5)
                .any(|w| w == [LONG_STRING, 0, 1, 0x11, 0x70])
        );
    }

    #[test]
    fn empty_property_names_round_trip() {
        // Found by the amf0 fuzz target: the encoder used to skip them, and wrote a count
        // that disagreed with what followed.
        let v = vec![Amf0Value::EcmaArray(vec![
            (String::new(), Amf0Value::Number(1.0)),
            ("a".into(), Amf0Value::Null),
        ])];
        let bytes = encode_all(&v).unwrap();
        assert_eq!(decode_all(&bytes, Amf0Limits::default()).unwrap(), v);
    }

    #[test]
    fn bombs_are_errors_not_memory() {
        let limits = Amf0Limits::default();
        // A strict array claiming 4 billion elements.
        let bomb = [STRICT_ARRAY, 0xff, 0xff, 0xff, 0xff, NULL];
        assert_eq!(decode_all(&bomb, limits), Err(Amf0Error::Truncated));
        // Deep nesting.
        let mut deep = Vec::new();
        for _ in 0..1000 {
            deep.extend_from_slice(&[OBJECT, 0, 1, b'a']);
        }
        assert_eq!(decode_all(&deep, limits), Err(Amf0Error::TooDeep(16)));
        // Many small values.
        let many = vec![NULL; 10_000];
        assert_eq!(
            decode_all(&many, limits),
            Err(Amf0Error::TooManyValues(4096))
        );
        // Too many bytes at all.
        let big = vec![NULL; 100_000];
        assert!(matches!(
            decode_all(&big, limits),
            Err(Amf0Error::TooLong { .. })
        ));
        // Lying string sizes.
        assert_eq!(
            decode_all(&[STRING, 0xff, 0xff, b'a'], limits),
            Err(Amf0Error::Truncated)
        );
        assert_eq!(
            decode_all(&[LONG_STRING, 0xff, 0xff, 0xff, 0xff, b'a'], limits),
            Err(Amf0Error::Truncated)
        );
        assert_eq!(
            decode_all(&[0x11, 0], limits),
            Err(Amf0Error::UnsupportedMarker(0x11))
        );
        assert_eq!(
            decode_all(&[OBJECT_END], limits),
            Err(Amf0Error::UnexpectedObjectEnd)
        );
    }

    fn value() -> impl Strategy<Value = Amf0Value> {
        let leaf = prop_oneof![
            any::<f64>()
                .prop_filter("NaN never equals itself", |n| !n.is_nan())
                .prop_map(Amf0Value::Number),
            any::<bool>().prop_map(Amf0Value::Boolean),
            ".{0,20}".prop_map(Amf0Value::String),
            Just(Amf0Value::Null),
            Just(Amf0Value::Undefined),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(("[a-z]{1,8}", inner.clone()), 0..8)
                    .prop_map(Amf0Value::Object),
                prop::collection::vec(("[a-z]{1,8}", inner.clone()), 0..8)
                    .prop_map(Amf0Value::EcmaArray),
                prop::collection::vec(inner, 0..8).prop_map(Amf0Value::StrictArray),
            ]
        })
    }

    proptest! {
        #[test]
        fn arbitrary_values_round_trip(values in prop::collection::vec(value(), 0..6)) {
            let bytes = encode_all(&values).unwrap();
            prop_assert_eq!(decode_all(&bytes, Amf0Limits::default()).unwrap(), values);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_all(&bytes, Amf0Limits::default());
        }
    }
}
