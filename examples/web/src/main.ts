// The example frontend: posts a transfer with the typed client and renders each state the API streams.
// `Prefer: respond-async` gets the req_id at once, so the page can show the transfer moving instead of
// waiting out the API's sync window; the Idempotency-Key makes a retried click safe.
import { createTransferClient, watchTransfer, type ClientOptions, type TransferRequest } from '@it/client';

interface PageConfig {
  apiUrl: string;
  token: string;
  userId: string;
  assetId: number;
}

function element<T extends HTMLElement>(selector: string): T {
  const found = document.querySelector<T>(selector);
  if (!found) throw new Error(`missing ${selector}`);
  return found;
}

const form = element<HTMLFormElement>('#transfer');
const button = element<HTMLButtonElement>('#transfer button');
const status = element<HTMLOutputElement>('#status');
const reqIdLabel = element<HTMLSpanElement>('#req-id');
const states = element<HTMLOListElement>('#states');
const message = element<HTMLParagraphElement>('#message');

const config = (await (await fetch('config.json')).json()) as PageConfig;
const options: ClientOptions = { baseUrl: config.apiUrl, token: config.token };
const client = createTransferClient(options);

function show(state: string, detail = ''): void {
  status.textContent = state;
  const item = document.createElement('li');
  item.textContent = `${new Date().toLocaleTimeString()} ${state}${detail ? ` (${detail})` : ''}`;
  item.dataset.state = state;
  states.append(item);
}

async function submit(): Promise<void> {
  const data = new FormData(form);
  const body: TransferRequest = {
    from: data.get('from') as TransferRequest['from'],
    to: data.get('to') as TransferRequest['to'],
    user_id: config.userId,
    asset_id: config.assetId,
    amount: data.get('amount') as string,
  };
  const res = await client.POST('/api/v1/transfer', {
    body,
    params: { header: { 'Idempotency-Key': crypto.randomUUID(), Prefer: 'respond-async' } },
  });
  if (!res.data) {
    status.textContent = 'refused';
    message.textContent = res.error?.message ?? `HTTP ${res.response.status}`;
    return;
  }
  reqIdLabel.textContent = res.data.req_id;
  status.textContent = res.data.status;
  for await (const transfer of watchTransfer(options, res.data.req_id)) {
    show(transfer.state, transfer.error ?? '');
    if (transfer.state === 'failed' || transfer.state === 'rolled_back') message.textContent = transfer.error ?? transfer.state;
  }
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  button.disabled = true;
  states.replaceChildren();
  message.textContent = '';
  reqIdLabel.textContent = '';
  submit()
    .catch((err: unknown) => {
      message.textContent = err instanceof Error ? err.message : String(err);
    })
    .finally(() => {
      button.disabled = false;
    });
});
