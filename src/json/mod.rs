//! Reading JSON safely, for every layer that receives it (the contract's wire types, the staff
//! API's bodies, the card file, decrypted card data): [`parse`] turns bytes into typed values with
//! error messages that name a field but never echo a value; [`lenient`] reads values the way TSH
//! and its relays send them (numbers as strings and the reverse, keys in any ASCII case).

pub mod lenient;
pub mod parse;
