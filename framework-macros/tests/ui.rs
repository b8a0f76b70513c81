//! The attribute's compile errors: each file under `ui/` must fail with the message beside it.
#[test]
fn compile_errors() {
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}
