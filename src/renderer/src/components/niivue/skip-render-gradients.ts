import type { Niivue } from '@niivue/niivue';

/**
 * Makes NiiVue's volume-rendering gradient pass (a blur and a Sobel filter over the whole base
 * volume, run on every layer refresh: each load and each window change) draw nothing.
 *
 * Why: the gradient only shades the 3D volume rendering, which this viewer never shows (slices
 * only, no render tile). On software WebGL (SwiftShader, the headless and GPU-less case) those two
 * passes sample the volume ~16 times per voxel with trilinear filtering and were most of the time
 * a subject took to open. NiiVue has no switch for the pass, so its shaders are replaced by one
 * whose vertices all lie outside the clip volume: the draws stay, no fragment is shaded.
 *
 * Call after attachToCanvas (which compiles NiiVue's shaders); do not use where a 3D render is shown.
 */
type ImageShader = NonNullable<Niivue['blurShader']>;

const VERTEX = `#version 300 es
in vec3 vPos;
void main() {
  // Every vertex beyond the far clip plane: the quad is culled before rasterisation.
  gl_Position = vec4(vPos * 0.0, 1.0) + vec4(0.0, 0.0, 2.0, 0.0);
}`;

const FRAGMENT = `#version 300 es
precision mediump float;
out vec4 color;
void main() {
  color = vec4(0.0);
}`;

function compile(gl: WebGL2RenderingContext, type: number, source: string): WebGLShader {
  const shader = gl.createShader(type);
  if (!shader) throw new Error('WebGL could not create a shader');
  gl.shaderSource(shader, source);
  gl.compileShader(shader);
  if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) throw new Error(`the no-op gradient shader did not compile: ${gl.getShaderInfoLog(shader) ?? ''}`);
  return shader;
}

export function skipRenderGradients(nv: Niivue): void {
  const gl = nv.gl;
  const program = gl.createProgram();
  if (!program) throw new Error('WebGL could not create a program');
  gl.attachShader(program, compile(gl, gl.VERTEX_SHADER, VERTEX));
  gl.attachShader(program, compile(gl, gl.FRAGMENT_SHADER, FRAGMENT));
  // NiiVue's full-screen quad feeds attribute 0.
  gl.bindAttribLocation(program, 0, 'vPos');
  gl.linkProgram(program);
  if (!gl.getProgramParameter(program, gl.LINK_STATUS)) throw new Error(`the no-op gradient shader did not link: ${gl.getProgramInfoLog(program) ?? ''}`);
  // NiiVue sets the filters' uniforms by name; absent names are null locations, which WebGL ignores.
  const noop: ImageShader = { program, uniforms: {}, use: (g: WebGL2RenderingContext) => g.useProgram(program) };
  nv.blurShader = noop;
  nv.gradientPrePassShader = noop;
  nv.sobelFirstOrderShader = noop;
  nv.sobelSecondOrderShader = noop;
}
