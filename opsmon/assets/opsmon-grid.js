/* opsmon: AG Grid cell renderers (dash-ag-grid reads window.dashAgGridComponentFunctions). */
var dagcomponentfuncs = (window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {});

/* A link that navigates inside the Dash app (like dcc.Link): no page reload. */
dagcomponentfuncs.OpsmonLink = function (props) {
  var params = props.colDef.cellRendererParams || {};
  var href = props.data ? props.data[params.hrefField || "href"] : null;
  if (!href) {
    return props.value == null ? "" : String(props.value);
  }
  return React.createElement("a", {
    href: href,
    className: "opsmon-link",
    onClick: function (event) {
      if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) { return; }
      event.preventDefault();
      window.history.pushState({}, "", href);
      window.dispatchEvent(new CustomEvent("_dashprivate_pushstate"));
      window.scrollTo(0, 0);
    }
  }, props.value);
};

/* A coloured risk-level pill; the row carries the level code in params.levelField. */
dagcomponentfuncs.OpsmonRisk = function (props) {
  var params = props.colDef.cellRendererParams || {};
  var level = props.data ? props.data[params.levelField || "level"] : null;
  if (!level) { return props.value == null ? "" : String(props.value); }
  return React.createElement("span", {className: "opsmon-risk opsmon-risk-" + level}, props.value);
};

/* A status pill (new / persisting / resolved, on-track verdicts …): class from params.classField. */
dagcomponentfuncs.OpsmonPill = function (props) {
  var params = props.colDef.cellRendererParams || {};
  var cls = props.data ? props.data[params.classField || "pill"] : null;
  if (props.value == null) { return ""; }
  return React.createElement("span", {className: "opsmon-pill opsmon-pill-" + (cls || "default")}, props.value);
};
