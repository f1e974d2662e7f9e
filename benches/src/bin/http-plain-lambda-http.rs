//! A plain `lambda_http` handler (`service_fn`) that answers with the request's JSON body.

use lambda_http::{Body, Error, Request, Response, run, service_fn, tracing};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    run(service_fn(|req: Request| async move {
        let body = req.body().to_vec();
        Ok::<_, Error>(
            Response::builder()
                .header("content-type", "application/json")
                .body(Body::from(body))?,
        )
    }))
    .await
}
