import { RECEIPT_LINK_TTL_DAYS } from '../application/receipts.use-case.js';

/** The page a customer sees for a receipt link that is not (or no longer) valid. */
export function renderReceiptLinkUnknown(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>Receipt link not valid</title>
<style>
  body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2933; background: #f5f7fa; margin: 0; }
  main { max-width: 32rem; margin: 4rem auto; padding: 2rem; background: #fff; border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
  h1 { font-size: 1.4rem; margin-top: 0; }
  p { line-height: 1.5; color: #3e4c59; }
</style>
</head>
<body>
<main>
  <h1>This receipt link isn't valid</h1>
  <p>The link may have been copied incompletely, or it has expired: receipt links work for ${RECEIPT_LINK_TTL_DAYS} days after the email that carried them.</p>
  <p>Ask the business that sent you the receipt to email it to you again.</p>
</main>
</body>
</html>`;
}
