//! `#[xenolith::main]`: the entry point of a Xenolith unikernel.
//!
//! ```ignore
//! #[xenolith::main]
//! async fn main(ctx: xenolith::Context) -> Result<(), MyError> {
//!     xenolith::executor::sleep(core::time::Duration::from_millis(10)).await;
//!     Ok(())
//! }
//! ```
//! expands to the function itself, unchanged, plus the image manifest note and
//! ```ignore
//! xenolith::__manifest!();
//! #[no_mangle]
//! pub fn __xenolith_boot_main(boot: xenolith::__private::Boot) -> ! {
//!     xenolith::__private::start_async(boot, |ctx| main(ctx))
//! }
//! ```
//! `pvh-boot` calls `__xenolith_boot_main`; `start_async` brings the platform up, runs the future on the
//! executor and powers the domain off when it returns (or crashes it on `Err`). A `main` without
//! parameters is accepted too (`|_ctx| main()`); its return type is whatever `start_async` accepts
//! (`()` or `Result<(), E>`): the compiler checks it there.
//!
//! Written without syn/quote: the item is kept as the user wrote it (so every error points at the user's
//! code), and only its head is read — qualifiers, name, generics, parameter count.

use proc_macro::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};

/// Marks `async fn main(ctx: xenolith::Context) -> Result<(), E>` (or `-> ()`) as the unikernel's entry.
#[proc_macro_attribute]
pub fn main(attr: TokenStream, item: TokenStream) -> TokenStream {
    if let Some(first) = attr.into_iter().next() {
        return error(first.span(), "`#[xenolith::main]` takes no arguments");
    }
    match parse_head(item.clone()) {
        Ok(head) => {
            let mut out = item;
            out.extend(boot_fn(&head));
            out
        }
        Err((span, msg)) => {
            // Keep the item so that the only error is ours (no "cannot find `main`" follow-ups).
            let mut out = error(span, &msg);
            out.extend(item);
            out
        }
    }
}

/// What the expansion needs from the function's head.
struct Head {
    name: Ident,
    takes_ctx: bool,
}

type Error = (Span, String);

/// Reads `#[attrs]* VIS? async fn NAME (ARGS) ...`.
fn parse_head(item: TokenStream) -> Result<Head, Error> {
    let mut tokens = item.into_iter().peekable();
    let mut is_async = false;
    let mut last_span = Span::call_site();
    // Attributes, visibility and qualifiers up to `fn`.
    loop {
        let Some(tt) = tokens.next() else {
            return Err((last_span, "`#[xenolith::main]` goes on an `async fn`".into()));
        };
        last_span = tt.span();
        match &tt {
            TokenTree::Punct(p) if p.as_char() == '#' => {
                // An outer attribute: `#` then `[...]`.
                tokens.next();
            }
            TokenTree::Ident(i) => match i.to_string().as_str() {
                "pub" => {
                    if let Some(TokenTree::Group(g)) = tokens.peek() {
                        if g.delimiter() == Delimiter::Parenthesis {
                            tokens.next();
                        }
                    }
                }
                "async" => is_async = true,
                "fn" => break,
                q @ ("const" | "unsafe" | "extern") => {
                    return Err((i.span(), format!("`#[xenolith::main]` does not accept a `{q}` function")));
                }
                _ => return Err((i.span(), "`#[xenolith::main]` goes on an `async fn`".into())),
            },
            _ => return Err((tt.span(), "`#[xenolith::main]` goes on an `async fn`".into())),
        }
    }
    if !is_async {
        return Err((
            last_span,
            "`#[xenolith::main]` needs an `async fn`: write `async fn main(ctx: xenolith::Context) -> Result<(), E>`"
                .into(),
        ));
    }
    let name = match tokens.next() {
        Some(TokenTree::Ident(name)) => name,
        other => return Err((span_of(other, last_span), "expected the function's name".into())),
    };
    match tokens.next() {
        Some(TokenTree::Group(args)) if args.delimiter() == Delimiter::Parenthesis => {
            let n = count_params(args.stream());
            if n > 1 {
                return Err((
                    args.span(),
                    "the main function takes at most one parameter: `ctx: xenolith::Context`".into(),
                ));
            }
            Ok(Head { name, takes_ctx: n == 1 })
        }
        Some(TokenTree::Punct(p)) if p.as_char() == '<' => {
            Err((p.span(), "the main function cannot be generic".into()))
        }
        other => Err((span_of(other, name.span()), "expected the parameter list".into())),
    }
}

fn span_of(tt: Option<TokenTree>, fallback: Span) -> Span {
    tt.map_or(fallback, |t| t.span())
}

/// Top-level comma-separated parameters (commas inside `<...>` belong to a type; `->` is not a `>`).
fn count_params(args: TokenStream) -> usize {
    let mut count = 0;
    let mut in_param = false;
    let mut angle_depth = 0usize;
    let mut prev_minus = false;
    for tt in args {
        let mut minus = false;
        if let TokenTree::Punct(p) = &tt {
            match p.as_char() {
                ',' if angle_depth == 0 => {
                    in_param = false;
                    continue;
                }
                '<' => angle_depth += 1,
                '>' if !prev_minus => angle_depth = angle_depth.saturating_sub(1),
                '-' => minus = p.spacing() == Spacing::Joint,
                _ => {}
            }
        }
        prev_minus = minus;
        if !in_param {
            in_param = true;
            count += 1;
        }
    }
    count
}

/// `#[no_mangle] pub fn __xenolith_boot_main(boot: xenolith::__private::Boot) -> ! { ... }`
fn boot_fn(head: &Head) -> TokenStream {
    let call = if head.takes_ctx { "|ctx| NAME(ctx)" } else { "|_ctx| NAME()" };
    let src = format!(
        "xenolith::__manifest!(); \
         #[no_mangle] \
         #[doc(hidden)] \
         pub fn __xenolith_boot_main(boot: xenolith::__private::Boot) -> ! {{ \
             xenolith::__private::start_async(boot, {call}) \
         }}"
    );
    let stream: TokenStream = src.parse().expect("the boot function is valid Rust");
    replace_name(stream, &head.name)
}

/// Puts the user's own identifier (with its span) where the template says `NAME`.
fn replace_name(stream: TokenStream, name: &Ident) -> TokenStream {
    stream
        .into_iter()
        .map(|tt| match tt {
            TokenTree::Ident(i) if i.to_string() == "NAME" => TokenTree::Ident(name.clone()),
            TokenTree::Group(g) => {
                let mut new = Group::new(g.delimiter(), replace_name(g.stream(), name));
                new.set_span(g.span());
                TokenTree::Group(new)
            }
            other => other,
        })
        .collect()
}

/// `::core::compile_error!("msg");` pointing at `span`.
fn error(span: Span, msg: &str) -> TokenStream {
    let mut lit = Literal::string(msg);
    lit.set_span(span);
    let mut body = Group::new(Delimiter::Parenthesis, TokenTree::Literal(lit).into());
    body.set_span(span);
    let tokens: Vec<TokenTree> = vec![
        Punct::new(':', Spacing::Joint).into(),
        Punct::new(':', Spacing::Alone).into(),
        Ident::new("core", span).into(),
        Punct::new(':', Spacing::Joint).into(),
        Punct::new(':', Spacing::Alone).into(),
        Ident::new("compile_error", span).into(),
        Punct::new('!', Spacing::Alone).into(),
        body.into(),
        Punct::new(';', Spacing::Alone).into(),
    ];
    tokens
        .into_iter()
        .map(|mut t| {
            t.set_span(span);
            t
        })
        .collect()
}
