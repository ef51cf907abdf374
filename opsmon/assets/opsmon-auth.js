// When the session has ended (idle timeout, sign-out elsewhere, password changed), the server answers
// Dash's requests with 401: send the browser to the sign-in page, and back here afterwards.
(function () {
    var original = window.fetch;
    window.fetch = function () {
        return original.apply(this, arguments).then(function (response) {
            if (response.status === 401 && response.url.indexOf("/_dash") !== -1) {
                var here = window.location.pathname + window.location.search;
                window.location.assign("/login?notice=expired&next=" + encodeURIComponent(here));
            }
            return response;
        });
    };
})();
