// Generated from the API's OpenAPI document by packages/client/scripts/generate.ts (npm run generate:client):
// do not edit. The document is generated from the zod schemas in apps/api/src (validation.ts, wire.ts).
export interface paths {
    "/api/v1/transfer": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Move funds between the user's Funding and Trading accounts
         * @description Creates the transfer durably, then waits briefly (SYNC_WAIT_MS) for its outcome: 200 when it finished, 202 `pending` when it still runs (follow it with GET or the events stream). Once a transfer exists the answer always carries its req_id.
         */
        post: operations["createTransfer"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/transfer/{req_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One transfer of the caller */
        get: operations["getTransfer"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/transfer/{req_id}/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Live status of one transfer (Server-Sent Events)
         * @description A `text/event-stream`: the transfer's current state at once, then one event per state change; the server closes the stream after a final state (`committed`, `rolled_back`, `failed`).
         *
         *     Each event is `event: state`, `id: <version>` (increasing per transfer) and one `data:` line holding the transfer as GET returns it (schema `Transfer`, named by `x-event-data`).
         *
         *     Comment lines (`: heartbeat`) keep idle connections open. Works on any API replica: state changes travel through Redis.
         *
         *     Authenticated like GET, with `Authorization: Bearer`: browsers read the stream with `fetch` (the typed client's `watchTransfer`), since `EventSource` cannot send headers and a token in the URL would leak into logs and history.
         *
         *     Open streams are bounded per user (429) and per process (503), both with `Retry-After`.
         */
        get: operations["streamTransferEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/transfers": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The caller's transfers, newest first */
        get: operations["listTransfers"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /** @description The transfer finished within the sync-wait window. */
        TransferOutcome: {
            /**
             * Format: uuid
             * @description The transfer's id (a UUID).
             * @example 0b45e5e0-8f17-4c58-b5f5-c9982981e7a3
             */
            req_id: string;
            /**
             * @description `committed`: both legs final. `rolled_back`: the source was debited and given back (net zero). `failed`: nothing moved.
             * @enum {string}
             */
            status: "committed" | "rolled_back" | "failed";
            /** @description The refusal's reason for `failed` and `rolled_back`; null when committed. */
            message: string | null;
        };
        /** @description Accepted and durable, not finished yet (or its outcome is not known yet). */
        TransferPending: {
            /**
             * Format: uuid
             * @description The transfer's id (a UUID).
             * @example 0b45e5e0-8f17-4c58-b5f5-c9982981e7a3
             */
            req_id: string;
            /** @enum {string} */
            status: "pending";
            message: null;
        };
        /** @description The request was refused; nothing was created. */
        TransferRefusal: {
            /**
             * @description Empty: no transfer was created.
             * @enum {string}
             */
            req_id: "";
            /** @enum {string} */
            status: "failed";
            /** @description What was wrong; a validation message starts with the field's name. */
            message: string;
        };
        /**
         * @description A transfer of `amount` of one asset between the user's two accounts.
         * @example {
         *       "from": "funding",
         *       "to": "trading",
         *       "user_id": "1001",
         *       "asset_id": 1,
         *       "amount": "2500"
         *     }
         */
        TransferRequest: {
            /**
             * @description The account the funds leave.
             * @enum {string}
             */
            from: "funding" | "trading";
            /**
             * @description The account the funds arrive in; must differ from `from`.
             * @enum {string}
             */
            to: "funding" | "trading";
            /**
             * @description The user whose funds move: with AUTH_MODE=jwt, the token subject. A JSON integer (1..2^53−1) or a decimal string (1..9223372036854775807).
             * @example 1001
             */
            user_id: number | string;
            /**
             * @description The asset, as the exchange numbers them (a signed 32-bit id).
             * @example 1
             */
            asset_id: number;
            /**
             * @description Minor units of the asset. A JSON integer (1..2^53−1) or a decimal string (1..9223372036854775807).
             * @example 2500
             */
            amount: number | string;
        };
        Transfer: {
            /**
             * Format: uuid
             * @description The transfer's id (a UUID).
             * @example 0b45e5e0-8f17-4c58-b5f5-c9982981e7a3
             */
            req_id: string;
            /**
             * @description The saga's state. `init`, `source_pending`, `source_done`, `target_pending`, `finalizing` and `compensating` are in progress; `committed`, `rolled_back` and `failed` are final.
             * @enum {string}
             */
            state: "init" | "source_pending" | "source_done" | "target_pending" | "finalizing" | "compensating" | "committed" | "rolled_back" | "failed";
            /** @enum {string} */
            source: "funding" | "trading";
            /** @enum {string} */
            target: "funding" | "trading";
            /**
             * @description The owner, as a decimal string.
             * @example 1001
             */
            user_id: string;
            asset_id: number;
            /**
             * @description Minor units, as a decimal string.
             * @example 2500
             */
            amount: string;
            /** Format: date-time */
            created_at: string;
            /** Format: date-time */
            updated_at: string;
            /** @description A refusal's reason, or the last unknown outcome while retrying. */
            error: string | null;
            /** @description Unknown outcomes in a row in the current state. */
            retry_count: number;
        };
        Error: {
            /** @example Transfer not found */
            error: string;
        };
        TransferPage: {
            items: components["schemas"]["Transfer"][];
            /** @description Pass as `cursor` for the next page; null on the last page. */
            next_cursor: string | null;
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    createTransfer: {
        parameters: {
            query?: never;
            header?: {
                /** @description Optional, recommended: the same key from the same user returns the same transfer (and its current status) instead of creating another; the same key with a different body is answered 409. */
                "Idempotency-Key"?: string;
                /** @description RFC 7240. `respond-async`: answer 202 `pending` at once instead of waiting for the outcome, for a client that follows the events stream (answered with `Preference-Applied: respond-async`). Other preferences are ignored. */
                Prefer?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["TransferRequest"];
            };
        };
        responses: {
            /** @description The transfer finished within the wait window. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TransferOutcome"];
                };
            };
            /** @description Accepted and durable, still running (or its outcome is not known yet), or answered at once for `Prefer: respond-async`. */
            202: {
                headers: {
                    /** @description Present when `Prefer: respond-async` was honoured. */
                    "Preference-Applied"?: "respond-async";
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TransferPending"];
                };
            };
            /** @description Invalid request: the message names the field. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TransferRefusal"];
                };
            };
            /** @description No or invalid credentials. */
            401: {
                headers: {
                    /** @description With AUTH_MODE=jwt: `Bearer`. */
                    "WWW-Authenticate"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TransferRefusal"];
                };
            };
            /** @description The body's `user_id` is not the authenticated user. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TransferRefusal"];
                };
            };
            /** @description The Idempotency-Key was already used by this user with a different request. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TransferRefusal"];
                };
            };
            /** @description The body is larger than the configured BODY_LIMIT. */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TransferRefusal"];
                };
            };
            /** @description The body's encoding or charset cannot be read. */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TransferRefusal"];
                };
            };
            /** @description An abuse limit: retry after `Retry-After` seconds (nothing was written). */
            429: {
                headers: {
                    /** @description Seconds to wait before retrying. */
                    "Retry-After": string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TransferRefusal"];
                };
            };
            /** @description An internal error (details are logged with the req_id, never sent). */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TransferRefusal"];
                };
            };
            /** @description Storage or the token verifier is unavailable: safe to retry (a POST best with the same Idempotency-Key). */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TransferRefusal"];
                };
            };
        };
    };
    getTransfer: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The transfer's id, as POST returned it. */
                req_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The transfer as stored now. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Transfer"];
                };
            };
            /** @description Invalid request: the message names the field. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No or invalid credentials. */
            401: {
                headers: {
                    /** @description With AUTH_MODE=jwt: `Bearer`. */
                    "WWW-Authenticate"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such transfer, or it belongs to another user (indistinguishable on purpose). */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An internal error (details are logged with the req_id, never sent). */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Storage or the token verifier is unavailable: safe to retry (a POST best with the same Idempotency-Key). */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    streamTransferEvents: {
        parameters: {
            query?: never;
            header?: {
                /** @description Sent by a reconnecting client: the current state is then sent only if it is newer than this event id. */
                "Last-Event-ID"?: string;
            };
            path: {
                /** @description The transfer's id, as POST returned it. */
                req_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The event stream. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example event: state
                     *     id: 3
                     *     data: {"req_id":"0b45e5e0-8f17-4c58-b5f5-c9982981e7a3","state":"committed",…}
                     */
                    "text/event-stream": string;
                };
            };
            /** @description Invalid request: the message names the field. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No or invalid credentials. */
            401: {
                headers: {
                    /** @description With AUTH_MODE=jwt: `Bearer`. */
                    "WWW-Authenticate"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such transfer, or it belongs to another user (indistinguishable on purpose). */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An abuse limit: retry after `Retry-After` seconds (nothing was written). */
            429: {
                headers: {
                    /** @description Seconds to wait before retrying. */
                    "Retry-After": string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An internal error (details are logged with the req_id, never sent). */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Storage or the token verifier is unavailable: safe to retry (a POST best with the same Idempotency-Key). */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listTransfers: {
        parameters: {
            query?: {
                /** @description Transfers per page. */
                limit?: number;
                /** @description The `next_cursor` of the previous page; absent or empty for the first page. */
                cursor?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description One page; it may be short, or empty with a null `next_cursor` at the end. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TransferPage"];
                };
            };
            /** @description Invalid request: the message names the field. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No or invalid credentials. */
            401: {
                headers: {
                    /** @description With AUTH_MODE=jwt: `Bearer`. */
                    "WWW-Authenticate"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An internal error (details are logged with the req_id, never sent). */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Storage or the token verifier is unavailable: safe to retry (a POST best with the same Idempotency-Key). */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
}
