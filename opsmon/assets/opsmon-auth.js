// When the session has ended (idle timeout, sign-out elsewhere, password changed), the server answers
// Dash's requests with 401: send the browser to the sign-in page, and back here afterwards.
// When the database cannot be reached, it answers 503 with a message: show it in a banner until a
// later request succeeds (the server reconnects by itself).
(function () {
    var original = window.fetch;
    function banner(text) {
        var el = document.getElementById("opsmon-unavailable");
        if (!text) { if (el) { el.remove(); } return; }
        if (!el) {
            el = document.createElement("div");
            el.id = "opsmon-unavailable";
            el.className = "alert alert-warning m-0 rounded-0 text-center";
            el.setAttribute("role", "alert");
            document.body.insertBefore(el, document.body.firstChild);
        }
        el.textContent = text;
    }
    window.fetch = function () {
        return original.apply(this, arguments).then(function (response) {
            if (response.url.indexOf("/_dash") === -1) { return response; }
            if (response.status === 401) {
                var here = window.location.pathname + window.location.search;
                window.location.assign("/login?notice=expired&next=" + encodeURIComponent(here));
            } else if (response.status === 503) {
                response.clone().json().then(function (body) { banner(body.message); }).catch(function () {});
            } else if (response.ok) {
                banner(null);
            }
            return response;
        });
    };
})();
