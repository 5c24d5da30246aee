// Render $...$ and $$...$$ (left as \(...\) / \[...\] by pymdownx.arithmatex) with KaTeX.
// document$ fires on every page load, including Material's instant navigation.
document$.subscribe(({ body }) => {
  renderMathInElement(body, {
    delimiters: [
      { left: "$$", right: "$$", display: true },
      { left: "$", right: "$", display: false },
      { left: "\\(", right: "\\)", display: false },
      { left: "\\[", right: "\\]", display: true },
    ],
  });
});
