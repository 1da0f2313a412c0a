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
//! Input that is DER already (what most encoders send) is only walked, not rebuilt: the walk allocates nothing
//! and any doubt sends the input through the full rewrite, so both paths give the same bytes and errors.
//!
//! Must not: interpret content, or recurse without bound (depth is capped; every element consumes input).
//! Input here is ciphertext and public structure only, never plaintext.

use std::borrow::Cow;

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

/// Re-encodes one BER element (the whole input) as DER. DER input comes back unchanged, borrowed: the
/// rewrite builds a tree and a copy of the envelope, which a request whose envelope is DER need not pay.
pub(crate) fn to_der(input: &[u8]) -> Result<Cow<'_, [u8]>, BerError> {
    if is_der(input) {
        return Ok(Cow::Borrowed(input));
    }
    rewrite(input).map(Cow::Owned)
}

/// The full BER → DER rewrite (a tree of the input, then its DER encoding).
fn rewrite(input: &[u8]) -> Result<Vec<u8>, BerError> {
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

/// What the DER walk needs to know of an element to judge its parent.
#[derive(Clone, Copy)]
struct Shape {
    /// The identifier (one byte: the walk leaves high tag numbers to the rewrite).
    tag: u8,
    /// Constructed and every child an OCTET STRING (vacuously true without children), as
    /// `is_encrypted_content_info` asks of a `[0]`.
    only_octet_strings: bool,
}

/// True when [`rewrite`] would return `input` byte for byte: every length definite and minimal, no
/// chunked OCTET STRING, no chunked encrypted content, within the depth cap, nothing after the element.
/// False for anything else, malformed input included ([`rewrite`] then says why).
fn is_der(input: &[u8]) -> bool {
    let mut reader = Reader { data: input };
    der_element(&mut reader, 0).is_some() && reader.data.is_empty()
}

/// Walks one element that [`encode`] would re-emit unchanged; `None` as soon as it would not.
fn der_element(reader: &mut Reader<'_>, depth: usize) -> Option<Shape> {
    if depth > MAX_DEPTH {
        return None;
    }
    let tag = reader.byte().ok()?;
    if tag & 0x1F == 0x1F {
        return None; // a high tag number: rare in CMS, left to the rewrite
    }
    let before = reader.data.len();
    let len = reader.length().ok()??; // the indefinite form is not DER
    if before - reader.data.len() != length_octets(len) {
        return None;
    }
    let content = reader.take(len).ok()?;
    if tag & CONSTRUCTED_BIT == 0 {
        return Some(Shape {
            tag,
            only_octet_strings: false,
        });
    }
    if tag == TAG_OCTET_STRING_CONSTRUCTED {
        return None;
    }
    der_children(content, tag, depth)
}

/// The children of a constructed element, unless the rewrite would merge them (see
/// `is_encrypted_content_info`).
fn der_children(content: &[u8], tag: u8, depth: usize) -> Option<Shape> {
    let mut body = Reader { data: content };
    let mut first_three = [None::<Shape>; 3];
    let mut count = 0usize;
    let mut only_octet_strings = true;
    while !body.data.is_empty() {
        let child = der_element(&mut body, depth + 1)?;
        only_octet_strings &= child.tag == TAG_OCTET_STRING;
        if let Some(slot) = first_three.get_mut(count) {
            *slot = Some(child);
        }
        count += 1;
    }
    let chunked_content = tag == TAG_SEQUENCE
        && count == 3
        && matches!(
            first_three,
            [Some(oid), Some(alg), Some(content)]
                if oid.tag == TAG_OID
                    && alg.tag == TAG_SEQUENCE
                    && content.tag == TAG_CONTEXT_0_CONSTRUCTED
                    && content.only_octet_strings
        );
    (!chunked_content).then_some(Shape {
        tag,
        only_octet_strings,
    })
}

/// How many bytes [`write_length`] spends on `len`.
fn length_octets(len: usize) -> usize {
    if len < 0x80 {
        return 1;
    }
    1 + len.to_be_bytes().iter().skip_while(|&&b| b == 0).count()
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

    fn der_of(input: &[u8]) -> Result<Vec<u8>, BerError> {
        to_der(input).map(Cow::into_owned)
    }

    #[test]
    fn der_input_is_borrowed_not_rebuilt() {
        let input = der("30 0C 06 01 2A 30 03 06 01 2A 80 02 AA BB");
        assert!(matches!(to_der(&input), Ok(Cow::Borrowed(_))));
    }

    #[test]
    fn the_der_walk_agrees_with_the_full_rewrite() {
        let mut long = der("04 82 01 00");
        long.extend(std::iter::repeat_n(0x11, 256));
        let cases: &[(&str, Vec<u8>)] = &[
            ("der", der("30 06 02 01 05 04 01 AA")),
            ("long form", long),
            ("indefinite", der("30 80 02 01 05 00 00")),
            ("non-minimal short", der("30 81 03 02 01 05")),
            (
                "leading zero length",
                der("04 82 00 81").into_iter().chain([0; 0x81]).collect(),
            ),
            ("chunked octets", der("24 03 04 01 AA")),
            (
                "chunked content",
                der("30 0C 06 01 2A 30 03 06 01 2A A0 03 04 01 AA"),
            ),
            (
                "empty chunked content",
                der("30 09 06 01 2A 30 03 06 01 2A A0 00"),
            ),
            ("explicit [0]", der("30 08 06 01 2A A0 03 04 01 AA")),
            (
                "[0] of a sequence",
                der("30 0E 06 01 2A 30 03 06 01 2A A0 04 30 02 05 00"),
            ),
            ("end of contents in a definite body", der("30 02 00 00")),
            ("high tag number", der("1F 81 01 00")),
            ("trailing bytes", der("02 01 05 FF")),
            ("truncated", der("30 05 02 01")),
            ("empty", Vec::new()),
        ];
        for (name, input) in cases {
            let rewritten = rewrite(input);
            assert_eq!(der_of(input), rewritten, "case: {name}");
            // The walk may leave DER to the rewrite (high tag numbers), never the other way round.
            let unchanged = rewritten.as_ref() == Ok(input);
            assert!(!is_der(input) || unchanged, "case: {name}");
            assert_eq!(
                is_der(input),
                unchanged && *name != "high tag number",
                "case: {name}"
            );
        }
    }

    #[test]
    fn der_input_is_returned_unchanged() {
        let input = der("30 06 02 01 05 04 01 AA");
        assert_eq!(der_of(&input), Ok(input));
    }

    #[test]
    fn indefinite_lengths_become_definite() {
        let input = der("30 80 02 01 05 30 80 04 01 AA 00 00 00 00");
        assert_eq!(der_of(&input), Ok(der("30 08 02 01 05 30 03 04 01 AA")));
    }

    #[test]
    fn non_minimal_lengths_become_minimal() {
        let input = der("30 82 00 04 02 81 01 05");
        assert_eq!(der_of(&input), Ok(der("30 03 02 01 05")));
    }

    #[test]
    fn long_contents_get_a_long_form_length() {
        let mut input = der("04 82 01 00");
        input.extend(std::iter::repeat_n(0x11, 256));
        assert_eq!(der_of(&input), Ok(input.clone()));
        let mut short_form = der("04 7F");
        short_form.extend(std::iter::repeat_n(0x22, 127));
        assert_eq!(der_of(&short_form), Ok(short_form.clone()));
    }

    #[test]
    fn chunked_octet_strings_are_merged() {
        let input = der("24 80 04 02 AA BB 24 80 04 01 CC 00 00 00 00");
        assert_eq!(der_of(&input), Ok(der("04 03 AA BB CC")));
    }

    #[test]
    fn chunked_encrypted_content_is_merged_into_a_primitive_context_0() {
        // SEQUENCE { OID 1.2, SEQUENCE { OID 1.2 }, [0] { OCTET STRING AA, OCTET STRING BB } }
        let input = der("30 80 06 01 2A 30 03 06 01 2A A0 80 04 01 AA 04 01 BB 00 00 00 00");
        assert_eq!(
            der_of(&input),
            Ok(der("30 0C 06 01 2A 30 03 06 01 2A 80 02 AA BB"))
        );
    }

    #[test]
    fn an_explicit_context_0_of_a_content_info_is_left_constructed() {
        // ContentInfo { OID, [0] EXPLICIT OCTET STRING }: only two fields, so not an EncryptedContentInfo.
        let input = der("30 80 06 01 2A A0 80 04 01 AA 00 00 00 00");
        assert_eq!(der_of(&input), Ok(der("30 08 06 01 2A A0 03 04 01 AA")));
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
            assert_eq!(der_of(&der(hex_input)), Err(*expected), "case: {name}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let mut input = Vec::new();
        for _ in 0..10_000 {
            input.extend_from_slice(&[0x30, 0x80]);
        }
        assert_eq!(der_of(&input), Err(BerError::TooDeep));
    }
}
