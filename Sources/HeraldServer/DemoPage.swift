/// `GET /v1/demo`: a page that shows a user's live unread count and new 站内信 with the browser's
/// `EventSource`, as a product's page would (open it as `/v1/demo?user=1&token=…`).
enum DemoPage {
    static let html = """
        <!doctype html>
        <html lang="zh-CN">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Herald 站内信 live demo</title>
        <link rel="icon" href="data:,">
        <style>
          body { font-family: system-ui, "PingFang SC", "Noto Sans CJK SC", sans-serif; margin: 2rem; color: #222; }
          .bell { font-size: 1.5rem; position: relative; display: inline-block; }
          #badge { position: absolute; top: -0.5rem; right: -1.2rem; min-width: 1.4rem; padding: 0 0.3rem; border-radius: 0.7rem;
                   background: #d32f2f; color: #fff; font-size: 0.9rem; text-align: center; }
          #badge[data-count="0"] { background: #9e9e9e; }
          li { margin: 0.4rem 0; }
          #state { color: #666; font-size: 0.9rem; }
        </style>
        </head>
        <body>
        <h1><span class="bell">🔔<span id="badge" data-count="0">0</span></span> 站内信</h1>
        <p id="state">connecting…</p>
        <ul id="messages"></ul>
        <script>
          const query = new URLSearchParams(location.search);
          const user = query.get("user") || "1";
          const url = "/v1/users/" + encodeURIComponent(user) + "/events?access_token=" + encodeURIComponent(query.get("token") || "")
            + "&tenant=" + encodeURIComponent(query.get("tenant") || "0");
          const badge = document.getElementById("badge"), state = document.getElementById("state");
          const list = document.getElementById("messages");
          const events = new EventSource(url);
          events.onopen = () => { state.textContent = "live for user " + user; };
          events.onerror = () => { state.textContent = "reconnecting…"; };
          events.addEventListener("unread", (e) => {
            const count = JSON.parse(e.data).unread;
            badge.textContent = count;
            badge.dataset.count = count;
          });
          const show = (e) => {
            const item = JSON.parse(e.data);
            const li = document.createElement("li");
            li.textContent = (item.title ? item.title + "：" : "") + item.content;
            list.prepend(li);
          };
          events.addEventListener("message", show);
          events.addEventListener("notice", show);
        </script>
        </body>
        </html>
        """
}
