//! BER → DER normalisation of CMS envelopes, so the strict DER decoders (`der`, `cms`) can read them.
//!
//! Owns: rewriting indefinite lengths as definite ones, non-minimal lengths as minimal ones, and chunked
//! (constructed) OCTET STRINGs as primitive ones. Streaming CMS encoders (BouncyCastle, `openssl cms -stream`)
//! emit exactly these forms, and RFC 5652 allows BER for EnvelopedData.
//!
//! The one non-generic rule: an IMPLICIT `[0]` OCTET STRING cannot be recognised from its tag alone, so a
//! constructed `[0]` is merged into a primitive one only where it is the third field of a SEQUENCE shaped like
//! `EncryptedContentInfo` (OBJECT IDENTIFIER, SEQUENCE, `[0]` made only of OCTET STRINGs). That leaves the
//! EXPLICIT `[0]` of a ContentInfo (two fields) untouched.
//!
//! Must not: interpret content, or recurse without bound (depth is capped; every element consumes input).
//! Input here is ciphertext and public structure only, never plaintext.

/// Deepest nesting accepted. CMS EnvelopedData with certificates in `originatorInfo` stays well below 20.
const MAX_DEPTH: usize = 32;
/// Longest definite length form accepted (4 bytes: up to 4 GiB, far above any accepted envelope).
const MAX_LENGTH_OCTETS: usize = 4;
/// Longest high-tag-number form accepted (identifier bytes after the first).
const MAX_TAG_OCTETS: usize = 4;

const TAG_OCTET_STRING: u8 = 0x04;
const TAG_OCTET_STRING_CONSTRUCTED: u8 = 0x24;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_CONTEXT_0_CONSTRUCTED: u8 = 0xA0;
const TAG_CONTEXT_0_PRIMITIVE: u8 = 0x80;
const CONSTRUCTED_BIT: u8 = 0x20;

/// Why the input is not well-formed BER. Deliberately carries no input bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BerError {
    Truncated,
    TooDeep,
    BadLength,
    IndefinitePrimitive,
    BadChunk,
    TrailingData,
}

/// One parsed element. Identifiers are kept as their raw bytes (1..=5 of them).
enum Node<'a> {
    Primitive {
        ident: Vec<u8>,
        content: &'a [u8],
    },
    Constructed {
        ident: Vec<u8>,
        children: Vec<Node<'a>>,
    },
}

impl Node<'_> {
    fn ident(&self) -> &[u8] {
        match self {
            Node::Primitive { ident, .. } | Node::Constructed { ident, .. } => ident,
        }
    }

    /// True for an OCTET STRING, primitive or chunked.
    fn is_octet_string(&self) -> bool {
        matches!(
            self.ident(),
            [TAG_OCTET_STRING] | [TAG_OCTET_STRING_CONSTRUCTED]
        )
    }
}

/// Re-encodes one BER element (the whole input) as DER. DER input comes back unchanged.
pub(crate) fn to_der(input: &[u8]) -> Result<Vec<u8>, BerError> {
    let mut reader = Reader { data: input };
    let node = parse(&mut reader, 0)?;
    if !reader.data.is_empty() {
        return Err(BerError::TrailingData);
    }
    let mut out = Vec::with_capacity(input.len());
    encode(&node, &mut out)?;
    Ok(out)
}

struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, BerError> {
        let (&first, rest) = self.data.split_first().ok_or(BerError::Truncated)?;
        self.data = rest;
        Ok(first)
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], BerError> {
        if len > self.data.len() {
            return Err(BerError::Truncated);
        }
        let (head, rest) = self.data.split_at(len);
        self.data = rest;
        Ok(head)
    }

    /// Consumes an end-of-contents marker (`00 00`) if one is next.
    fn eat_end_of_contents(&mut self) -> bool {
        match self.data {
            [0, 0, rest @ ..] => {
                self.data = rest;
                true
            }
            _ => false,
        }
    }

    fn identifier(&mut self) -> Result<Vec<u8>, BerError> {
        let first = self.byte()?;
        let mut ident = vec![first];
        if first & 0x1F == 0x1F {
            loop {
                let next = self.byte()?;
                ident.push(next);
                if next & 0x80 == 0 {
                    break;
                }
                if ident.len() > MAX_TAG_OCTETS {
                    return Err(BerError::BadLength);
                }
            }
        }
        Ok(ident)
    }

    /// `None` is the indefinite form.
    fn length(&mut self) -> Result<Option<usize>, BerError> {
        let first = self.byte()?;
        if first < 0x80 {
            return Ok(Some(usize::from(first)));
        }
        if first == 0x80 {
            return Ok(None);
        }
        let octets = usize::from(first & 0x7F);
        if octets > MAX_LENGTH_OCTETS {
            return Err(BerError::BadLength);
        }
        let mut len: usize = 0;
        for _ in 0..octets {
            let next = usize::from(self.byte()?);
            len = len.checked_mul(256).ok_or(BerError::BadLength)? | next;
        }
        Ok(Some(len))
    }
}

fn parse<'a>(reader: &mut Reader<'a>, depth: usize) -> Result<Node<'a>, BerError> {
    if depth > MAX_DEPTH {
        return Err(BerError::TooDeep);
    }
    let ident = reader.identifier()?;
    let constructed = ident.first().is_some_and(|b| b & CONSTRUCTED_BIT != 0);
    let length = reader.length()?;
    if !constructed {
        let len = length.ok_or(BerError::IndefinitePrimitive)?;
        let content = reader.take(len)?;
        return Ok(Node::Primitive { ident, content });
    }
    let mut children = Vec::new();
    match length {
        Some(len) => {
            let mut body = Reader {
                data: reader.take(len)?,
            };
            while !body.data.is_empty() {
                children.push(parse(&mut body, depth + 1)?);
            }
        }
        None => loop {
            if reader.eat_end_of_contents() {
                break;
            }
            if reader.data.is_empty() {
                return Err(BerError::Truncated);
            }
            children.push(parse(reader, depth + 1)?);
        },
    }
    Ok(Node::Constructed { ident, children })
}

fn encode(node: &Node<'_>, out: &mut Vec<u8>) -> Result<(), BerError> {
    match node {
        Node::Primitive { ident, content } => {
            write_tlv(out, ident, content);
            Ok(())
        }
        Node::Constructed { ident, children } => {
            if ident.as_slice() == [TAG_OCTET_STRING_CONSTRUCTED] {
                let mut octets = Vec::new();
                collect_octets(node, &mut octets)?;
                write_tlv(out, &[TAG_OCTET_STRING], &octets);
                return Ok(());
            }
            let mut body = Vec::new();
            if is_encrypted_content_info(ident, children) {
                // OBJECT IDENTIFIER, AlgorithmIdentifier, then [0] IMPLICIT OCTET STRING made primitive.
                for (index, child) in children.iter().enumerate() {
                    if index == 2 {
                        let mut octets = Vec::new();
                        collect_octets(child, &mut octets)?;
                        write_tlv(&mut body, &[TAG_CONTEXT_0_PRIMITIVE], &octets);
                    } else {
                        encode(child, &mut body)?;
                    }
                }
            } else {
                for child in children {
                    encode(child, &mut body)?;
                }
            }
            write_tlv(out, ident, &body);
            Ok(())
        }
    }
}

/// SEQUENCE { OBJECT IDENTIFIER, SEQUENCE, `[0]` constructed of OCTET STRINGs }: an EncryptedContentInfo whose
/// encrypted content was chunked.
fn is_encrypted_content_info(ident: &[u8], children: &[Node<'_>]) -> bool {
    if ident != [TAG_SEQUENCE] {
        return false;
    }
    match children {
        [oid, alg, Node::Constructed {
            ident: tag,
            children: chunks,
        }] => {
            oid.ident() == [TAG_OID]
                && alg.ident() == [TAG_SEQUENCE]
                && tag.as_slice() == [TAG_CONTEXT_0_CONSTRUCTED]
                && chunks.iter().all(Node::is_octet_string)
        }
        _ => false,
    }
}

/// Concatenates the contents of a chunked string: its children must be OCTET STRINGs (chunked or not).
fn collect_octets(node: &Node<'_>, out: &mut Vec<u8>) -> Result<(), BerError> {
    match node {
        Node::Primitive { content, .. } => {
            out.extend_from_slice(content);
            Ok(())
        }
        Node::Constructed { children, .. } => {
            for child in children {
                if !child.is_octet_string() {
                    return Err(BerError::BadChunk);
                }
                collect_octets(child, out)?;
            }
            Ok(())
        }
    }
}

fn write_tlv(out: &mut Vec<u8>, ident: &[u8], content: &[u8]) {
    out.extend_from_slice(ident);
    write_length(out, content.len());
    out.extend_from_slice(content);
}

fn write_length(out: &mut Vec<u8>, len: usize) {
    match u8::try_from(len) {
        Ok(short) if short < 0x80 => out.push(short),
        _ => {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|&&b| b == 0).count();
            let significant = bytes.get(skip..).unwrap_or(&[]);
            // 1..=8 significant bytes: always fits the 7-bit length-of-length.
            let count = u8::try_from(significant.len()).unwrap_or(0x7F);
            out.push(0x80 | count);
            out.extend_from_slice(significant);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(hex_str: &str) -> Vec<u8> {
        hex::decode(hex_str.replace(' ', "")).expect("test hex")
    }

    #[test]
    fn der_input_is_returned_unchanged() {
        let input = der("30 06 02 01 05 04 01 AA");
        assert_eq!(to_der(&input), Ok(input));
    }

    #[test]
    fn indefinite_lengths_become_definite() {
        let input = der("30 80 02 01 05 30 80 04 01 AA 00 00 00 00");
        assert_eq!(to_der(&input), Ok(der("30 08 02 01 05 30 03 04 01 AA")));
    }

    #[test]
    fn non_minimal_lengths_become_minimal() {
        let input = der("30 82 00 04 02 81 01 05");
        assert_eq!(to_der(&input), Ok(der("30 03 02 01 05")));
    }

    #[test]
    fn long_contents_get_a_long_form_length() {
        let mut input = der("04 82 01 00");
        input.extend(std::iter::repeat_n(0x11, 256));
        assert_eq!(to_der(&input), Ok(input.clone()));
        let mut short_form = der("04 7F");
        short_form.extend(std::iter::repeat_n(0x22, 127));
        assert_eq!(to_der(&short_form), Ok(short_form.clone()));
    }

    #[test]
    fn chunked_octet_strings_are_merged() {
        let input = der("24 80 04 02 AA BB 24 80 04 01 CC 00 00 00 00");
        assert_eq!(to_der(&input), Ok(der("04 03 AA BB CC")));
    }

    #[test]
    fn chunked_encrypted_content_is_merged_into_a_primitive_context_0() {
        // SEQUENCE { OID 1.2, SEQUENCE { OID 1.2 }, [0] { OCTET STRING AA, OCTET STRING BB } }
        let input = der("30 80 06 01 2A 30 03 06 01 2A A0 80 04 01 AA 04 01 BB 00 00 00 00");
        assert_eq!(
            to_der(&input),
            Ok(der("30 0C 06 01 2A 30 03 06 01 2A 80 02 AA BB"))
        );
    }

    #[test]
    fn an_explicit_context_0_of_a_content_info_is_left_constructed() {
        // ContentInfo { OID, [0] EXPLICIT OCTET STRING }: only two fields, so not an EncryptedContentInfo.
        let input = der("30 80 06 01 2A A0 80 04 01 AA 00 00 00 00");
        assert_eq!(to_der(&input), Ok(der("30 08 06 01 2A A0 03 04 01 AA")));
    }

    #[test]
    fn malformed_inputs_are_refused() {
        let cases: &[(&str, &str, BerError)] = &[
            ("empty", "", BerError::Truncated),
            ("only a tag", "30", BerError::Truncated),
            ("length beyond input", "30 05 02 01", BerError::Truncated),
            (
                "missing end of contents",
                "30 80 02 01 05",
                BerError::Truncated,
            ),
            (
                "indefinite primitive",
                "04 80 AA 00 00",
                BerError::IndefinitePrimitive,
            ),
            (
                "length of length 5",
                "04 85 01 00 00 00 00",
                BerError::BadLength,
            ),
            ("trailing bytes", "02 01 05 FF", BerError::TrailingData),
            (
                "chunk that is not an octet string",
                "24 80 02 01 05 00 00",
                BerError::BadChunk,
            ),
            (
                "runaway high tag number",
                "1F 81 81 81 81 81 01 00",
                BerError::BadLength,
            ),
        ];
        for (name, hex_input, expected) in cases {
            assert_eq!(to_der(&der(hex_input)), Err(*expected), "case: {name}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let mut input = Vec::new();
        for _ in 0..10_000 {
            input.extend_from_slice(&[0x30, 0x80]);
        }
        assert_eq!(to_der(&input), Err(BerError::TooDeep));
    }
}
