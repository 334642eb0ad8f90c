//! The bytes: what clients send is what the server writes, chunk after chunk
//! (`specs/seg-pool.md` §3.3, §4.2).

use crate::check::{Ctx, Failure};
use crate::expect;
use crate::run::{Input, Output};
use crate::stream::Stream;

use super::{bytes_of, client, in_case, new_key, output_is, server, wait_pool};

/// `transfer-sizes`: for S = 4096 and 5000, a server of 2 segments and six clients one after
/// another, of 0, 1, S − 1, S, S + 1 and 3S + 7 bytes: the server writes their inputs in that
/// order and exits 0 after the sixth.
pub fn sizes(ctx: &Ctx) -> Result<(), Failure> {
    for size in [4096u64, 5000] {
        let key = new_key(ctx)?;
        let lens = [0, 1, size - 1, size, size + 1, 3 * size + 7];
        let srv = ctx.spawn(server(ctx, &key, 2, size, lens.len(), &[]))?;
        let (srv, _) = wait_pool(ctx, &key, 2, srv)?;
        let mut expected = Vec::new();
        for (i, &len) in lens.iter().enumerate() {
            let case = format!("SEG_SIZE {size}, client {} of {len} bytes", i + 1);
            let stream = Stream::new(ctx.seed() ^ (size << 8) ^ i as u64, len);
            expected.extend(bytes_of(&stream, len));
            let run = ctx.run(client(ctx, &key).stdin(Input::Stream(stream)))?;
            expect::exit_code(&run, 0)
                .and_then(|()| expect::stdout_empty(&run))
                .map_err(in_case(&case))?;
        }
        let case = format!("SEG_SIZE {size}, the server after six clients");
        let srv = ctx.wait(srv);
        expect::exit_code(&srv, 0).map_err(in_case(&case))?;
        output_is(&srv, &expected).map_err(in_case(&case))?;
    }
    ctx.note("12 clients of 0 to 3S + 7 bytes, S = 4096 and 5000: every byte in order");
    Ok(())
}

/// `transfer-large`: 16 MiB from one client through 4 segments of 64 KiB, compared byte for
/// byte as the server writes it.
pub fn large(ctx: &Ctx) -> Result<(), Failure> {
    let len = 16 << 20;
    let key = new_key(ctx)?;
    let stream = Stream::new(ctx.seed() ^ 0x5e9, len);
    let srv = ctx.spawn(server(ctx, &key, 4, 65536, 1, &[]).stdout(Output::Compare(stream)))?;
    let (srv, _) = wait_pool(ctx, &key, 4, srv)?;
    let run = ctx.run(client(ctx, &key).stdin(Input::Stream(stream)))?;
    expect::exit_code(&run, 0).map_err(in_case("the client"))?;
    let srv = ctx.wait(srv);
    expect::exit_code(&srv, 0).map_err(in_case("the server"))?;
    expect::stream_matched(&srv).map_err(in_case("the server's output"))?;
    ctx.note("16 MiB through 4 segments of 64 KiB, byte for byte");
    Ok(())
}
