//! The parsed specification: classes, methods, fields and the base types their domains
//! resolve to.

/// An AMQP base type a domain resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseType {
    /// `bit`: one boolean, packed with adjacent bits into octets.
    Bit,
    /// `octet`: unsigned 8-bit.
    Octet,
    /// `short`: unsigned 16-bit.
    Short,
    /// `long`: unsigned 32-bit.
    Long,
    /// `longlong`: unsigned 64-bit.
    LongLong,
    /// `shortstr`: up to 255 bytes of UTF-8.
    ShortStr,
    /// `longstr`: a 32-bit length and that many bytes.
    LongStr,
    /// `timestamp`: 64-bit seconds since the epoch.
    Timestamp,
    /// `table`: a field table.
    Table,
}

impl BaseType {
    pub(crate) fn from_name(name: &str) -> Option<BaseType> {
        Some(match name {
            "bit" => BaseType::Bit,
            "octet" => BaseType::Octet,
            "short" => BaseType::Short,
            "long" => BaseType::Long,
            "longlong" => BaseType::LongLong,
            "shortstr" => BaseType::ShortStr,
            "longstr" => BaseType::LongStr,
            "timestamp" => BaseType::Timestamp,
            "table" => BaseType::Table,
            _ => return None,
        })
    }

    /// The spec's name for this type.
    pub fn name(self) -> &'static str {
        match self {
            BaseType::Bit => "bit",
            BaseType::Octet => "octet",
            BaseType::Short => "short",
            BaseType::Long => "long",
            BaseType::LongLong => "longlong",
            BaseType::ShortStr => "shortstr",
            BaseType::LongStr => "longstr",
            BaseType::Timestamp => "timestamp",
            BaseType::Table => "table",
        }
    }

    pub(crate) fn rust_type(self) -> &'static str {
        match self {
            BaseType::Bit => "bool",
            BaseType::Octet => "u8",
            BaseType::Short => "u16",
            BaseType::Long => "u32",
            BaseType::LongLong | BaseType::Timestamp => "u64",
            BaseType::ShortStr => "String",
            BaseType::LongStr => "Bytes",
            BaseType::Table => "FieldTable",
        }
    }
}

/// The parsed and merged specification.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Classes in document order (extension classes after the spec's).
    pub classes: Vec<Class>,
}

/// One AMQP class.
#[derive(Debug, Clone)]
pub struct Class {
    /// Spec name, e.g. `basic`.
    pub name: String,
    /// Class id.
    pub index: u16,
    /// First sentence of the class's `<doc>`, if any.
    pub doc: Option<String>,
    /// Methods in document order (extension methods after the spec's).
    pub methods: Vec<MethodDef>,
}

/// One AMQP method.
#[derive(Debug, Clone)]
pub struct MethodDef {
    /// Spec name, e.g. `publish`.
    pub name: String,
    /// Method id within the class.
    pub index: u16,
    /// Whether content (a header and body frames) follows the method frame.
    pub content: bool,
    /// Whether the spec marks the method synchronous.
    pub synchronous: bool,
    /// Names of the methods that answer this one.
    pub responses: Vec<String>,
    /// First sentence of the method's `<doc>`, if any.
    pub doc: Option<String>,
    /// Arguments in wire order.
    pub fields: Vec<FieldDef>,
}

/// One method argument.
#[derive(Debug, Clone)]
pub struct FieldDef {
    /// Spec name, e.g. `routing-key`.
    pub name: String,
    /// The domain named by the field, if it used `domain=` rather than `type=`.
    pub domain: Option<String>,
    /// The base type the domain resolves to.
    pub ty: BaseType,
    /// Whether the spec marks the field reserved.
    pub reserved: bool,
    /// First sentence of the field's `<doc>`, if any.
    pub doc: Option<String>,
}
