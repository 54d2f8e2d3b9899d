//! The routes clawshim serves itself: [`table`] says which one a request takes, [`serve`]
//! hands it to its module (`chat`, `responses`, `models`, `embeddings`, `health`).

pub mod agent_run;
pub mod chat;
pub mod embeddings;
pub mod health;
pub mod models;
pub mod responses;
pub mod table;

use pingora::proxy::Session;

use crate::front_door::auth::require_principal;
use crate::front_door::keys::Principal;
use crate::request::ctx::RequestCtx;
use crate::request::errors::HttpError;
use crate::state::ProxyState;
use table::Route;

/// Serve the request's route (every route but passthrough), as `principal` when it needs
/// one.
pub async fn serve(
    session: &mut Session,
    ctx: &mut RequestCtx,
    app: &ProxyState,
    principal: Option<Principal>,
) -> Result<(), HttpError> {
    match ctx.route.clone() {
        Route::ChatCompletions => {
            chat::serve(session, ctx, app, &require_principal(principal)?).await
        }
        Route::Responses => {
            responses::serve(session, ctx, app, &require_principal(principal)?).await
        }
        Route::Embeddings => {
            embeddings::serve(
                session,
                ctx,
                &app.embeddings,
                &require_principal(principal)?,
            )
            .await
        }
        Route::Models => models::list(session, ctx, app, &require_principal(principal)?).await,
        Route::Model(id) => {
            models::retrieve(session, ctx, app, &require_principal(principal)?, &id).await
        }
        Route::Healthz => health::healthz(session, ctx).await,
        Route::Readyz => health::readyz(session, ctx, app).await,
        Route::WrongMethod { allow } => Err(HttpError::MethodNotAllowed { allow }),
        Route::NonCanonical => Err(HttpError::BadRequest {
            message: format!(
                "`{}` is not the canonical path of this route: no percent-encoding, `\\` or \
                 `.`/`..` segments",
                session.req_header().uri.path()
            ),
            param: None,
        }),
        Route::NotFound => {
            let req = session.req_header();
            Err(HttpError::NotFound {
                method: req.method.to_string(),
                path: req.uri.path().to_string(),
            })
        }
        Route::Passthrough => unreachable!("passthrough is not served here"),
    }
}
