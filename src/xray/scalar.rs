//! [`Scalar`]: the values of annotations and `aws` fields, shared by the subsegments that record
//! them and the documents that write them, so neither module depends on the other for it.

/// Longest annotation string X-Ray indexes.
const MAX_ANNOTATION: usize = 1000;

/// A value for an annotation or an `aws` field: a string, a number or a boolean.
///
/// Built with `.into()` from `&str`, `String`, `bool` and the integer and float types.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar(pub(super) ScalarKind);

#[derive(Debug, Clone, PartialEq)]
pub(super) enum ScalarKind {
    Str(String),
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
}

impl From<&str> for Scalar {
    fn from(v: &str) -> Self {
        Scalar(ScalarKind::Str(truncate(v, MAX_ANNOTATION).to_owned()))
    }
}
impl From<String> for Scalar {
    fn from(v: String) -> Self {
        Scalar::from(v.as_str())
    }
}
impl From<&String> for Scalar {
    fn from(v: &String) -> Self {
        Scalar::from(v.as_str())
    }
}
impl From<bool> for Scalar {
    fn from(v: bool) -> Self {
        Scalar(ScalarKind::Bool(v))
    }
}
impl From<f64> for Scalar {
    fn from(v: f64) -> Self {
        Scalar(ScalarKind::Float(v))
    }
}
macro_rules! scalar_from_int {
    ($kind:ident as $wide:ty: $($t:ty),*) => {$(
        impl From<$t> for Scalar {
            fn from(v: $t) -> Self {
                Scalar(ScalarKind::$kind(v as $wide))
            }
        }
    )*};
}
scalar_from_int!(Int as i64: i8, i16, i32, i64, isize);
scalar_from_int!(UInt as u64: u8, u16, u32, u64, usize);

/// `s` cut to at most `max` bytes, on a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
